"""Property-based run of the whole API against its own OpenAPI schema (schemathesis).

Bounded (20 examples per operation and phase, about a minute here) and run by
`scripts/schemathesis.sh` in CI; skipped in the ordinary `make test`. Any 5xx, any response
that does not match the schema, any undocumented status code fails it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files import File

from core.api.tokens import token_rotate
from lims.celery import app as celery_app
from tests.factories import join

pytestmark = pytest.mark.skipif(
    os.environ.get("LIMS_SCHEMATHESIS") != "1",
    reason="slow fuzzing run; scripts/schemathesis.sh sets LIMS_SCHEMATHESIS=1",
)

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"


def _schemathesis() -> str:
    beside = Path(sys.executable).with_name("schemathesis")
    return str(beside) if beside.exists() else (shutil.which("schemathesis") or "schemathesis")


def _operation(name: str, parameter: str, value: str) -> str:
    return (
        f'[[operations]]\ninclude-name = "{name}"\nparameters = {{ "{parameter}" = "{value}" }}\n'
    )


def _demo_records(user, folder: Path) -> str:
    """The demo study with a measurement as `make run` has: MEAS-0001, a short cycling test of
    CELL-0005 (processed, so its data and results exist, and the cell cannot be deleted);
    MEAS-0002 to upload files to and MEAS-0003 to delete, so that MEAS-0001 keeps its data.
    The SHA-256 of MEAS-0001's raw file."""
    from cells.models import Cell
    from demo.records import load_demo
    from demo.synthetic.files import write_maccor_cycling
    from measurements.services import measurement_create

    load_demo(user)
    cell = Cell.objects.get(code="CELL-0005")
    path = write_maccor_cycling(
        folder / "CELL-0005.txt", n_cycles=5, rows_per_cycle=40, active_mass_mg=cell.active_mass_mg
    )
    with path.open("rb") as fh:
        measurement = measurement_create(
            user=user, item=cell, fields={"technique": "cycling"}, uploads=[File(fh, path.name)]
        )
    for _ in range(2):
        measurement_create(user=user, item=cell, fields={"technique": "eis"})
    return measurement.files.get().raw_file.sha256


def test_the_api_keeps_its_schema_under_generated_requests(
    transactional_db, live_server, django_user_model, tmp_path, capsys
):
    # The demo data and user the schema's examples name (`demo.records.EXAMPLE_CODES`).
    user = django_user_model.objects.create_user("demo", password="pw-fuzz-12345", is_staff=True)
    join(user, "manager")  # a manager of the default project, where the demo records are
    raw_sha = _demo_records(user, tmp_path)
    token = token_rotate(user).key
    # What the schema's examples cannot give: the hash of a file uploaded by this run, and
    # other measurements than MEAS-0001 to add files to and to delete.
    # Writes go through with `If-Match: *` (any version): a made-up ETag is a 412 by design,
    # which tests/api/test_concurrency.py covers; here the bodies are what is being fuzzed.
    (tmp_path / "schemathesis.toml").write_text(
        'parameters = { "header.If-Match" = "*" }\n'
        + _operation("GET /api/raw-files/{sha256}/", "path.sha256", raw_sha)
        + _operation("POST /api/measurements/{code}/files/", "path.code", "MEAS-0002")
        + _operation("DELETE /api/measurements/{code}/", "path.code", "MEAS-0003")
    )
    command = [
        _schemathesis(),
        "run",
        f"{live_server.url}/api/schema/",
        "--header",
        f"Authorization: Token {token}",
        # Django's test server and a keep-alive client wait 40 ms per request (delayed ACK).
        "--header",
        "Connection: close",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"),
        # POST/DELETE /api/tokens/ would replace the very token the run authenticates with.
        "--exclude-path",
        "/api/tokens/",
        # A whole project's export reads every raw file of every item the fuzzing has made in
        # the project (hundreds by then) from the store: longer than the 10 s per request
        # here. tests/operations/test_eln_selection.py tests it on the demo project (0.5 s).
        "--exclude-operation-id",
        "projects_export_eln",
        # One worker: Python 3.11's ast.parse is not thread-safe, which hypothesis hits.
        "--workers",
        "1",
        "--seed",
        os.environ.get("SCHEMATHESIS_SEED", "20240301"),
        "--generation-database",
        "none",
        "--report-dir",
        str(tmp_path),
        "--no-color",
        # e.g. "--include-path-regex chemicals --report har" to look at one endpoint's answers
        *os.environ.get("SCHEMATHESIS_EXTRA_ARGS", "").split(),
    ]
    # Fuzzed writes queue their work as in production, where a worker takes it. There is no
    # worker here, so the queue is in memory and dropped: run in-request (eager), one PUT of
    # a pellet recomputed the hundreds of measurements the fuzzing had hung on it (over 10 s).
    broker = celery_app.conf.broker_url
    celery_app.conf.update(task_always_eager=False, broker_url="memory://")
    try:
        # Run in a scratch directory: schemathesis keeps a `.schemathesis/` cache there.
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path
        )
    finally:
        celery_app.conf.update(broker_url=broker)
    output = result.stdout + result.stderr
    (Path(os.environ.get("SCHEMATHESIS_OUTPUT_DIR", tmp_path)) / "schemathesis.txt").write_text(
        result.stdout
    )
    with capsys.disabled():  # the run's summary, also when it passes
        print("\n".join(output.strip().splitlines()[-20:]))
    assert result.returncode == 0, output[-20000:]
