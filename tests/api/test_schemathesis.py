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

from lims.api.tokens import token_rotate

pytestmark = pytest.mark.skipif(
    os.environ.get("LIMS_SCHEMATHESIS") != "1",
    reason="slow fuzzing run; scripts/schemathesis.sh sets LIMS_SCHEMATHESIS=1",
)

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"


def _schemathesis() -> str:
    beside = Path(sys.executable).with_name("schemathesis")
    return str(beside) if beside.exists() else (shutil.which("schemathesis") or "schemathesis")


def test_the_api_keeps_its_schema_under_generated_requests(
    transactional_db, live_server, django_user_model, tmp_path, capsys
):
    from lims.demo import load_demo

    user = django_user_model.objects.create_user("fuzz", password="pw-fuzz-12345", is_staff=True)
    load_demo(user)  # real codes for the examples to hit
    token = token_rotate(user).key
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
    ]
    # Run in a scratch directory: schemathesis keeps a `.schemathesis/` cache where it runs.
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path
    )
    output = result.stdout + result.stderr
    with capsys.disabled():  # the run's summary, also when it passes
        print("\n".join(output.strip().splitlines()[-20:]))
    assert result.returncode == 0, output[-20000:]
