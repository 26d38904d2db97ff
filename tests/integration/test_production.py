"""The README's production section, run as written: web (gunicorn), a Celery worker and beat
as separate processes that share nothing but the database, Redis and the object store.

The commands are read from the README block between `<!-- production:begin -->` and
`<!-- production:end -->`, so the README cannot drift from what CI runs. Only what the README
says is configuration changes here: the environment variables, and the listening port (a free
one, so CI never collides with a running site).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from core.api.tokens import token_rotate
from lims.client import Client
from synthesis.services import pellets_measure
from tests import factories
from tests.instrument_files import ROOT as INSTRUMENT_FILES
from tests.integration.conftest import ROOT, database_url_of_test_db

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

README = ROOT / "README.md"
MPT = INSTRUMENT_FILES / "impedance.py" / "exampleDataBioLogic.mpt"


def production_commands() -> list[str]:
    """The shell lines of the README's production block, comments and blank lines dropped."""
    text = README.read_text()
    block = re.search(r"<!-- production:begin -->(.*?)<!-- production:end -->", text, re.S)
    assert block, "README has no production block"
    code = re.search(r"```sh\n(.*?)```", block.group(1), re.S)
    assert code, "the production block has no ```sh code"
    lines = [line.split(" #")[0].strip() for line in code.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def needs_distributed_parts() -> str | None:
    """Why this machine cannot run the production layout, or None."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        return "the production layout needs Redis (CELERY_BROKER_URL=redis://...; CI sets it)"
    if not os.environ.get("LIMS_STORAGE_URL", "").startswith("s3://"):
        return "the production layout needs an S3 store (LIMS_STORAGE_URL=s3://...; CI sets it)"
    return None


class Processes:
    """Background processes of the deployment, each in its own working directory; stopped
    (and their logs printed on failure) at the end."""

    def __init__(self, base: Path, env: dict[str, str]):
        self.base, self.env, self.running = base, env, []

    def run(self, name: str, command: str, *, background: bool) -> subprocess.Popen | None:
        var = self.base / name
        var.mkdir(parents=True, exist_ok=True)
        # Each process has its own var dir: no MEDIA_ROOT, broker dir or SQLite file in common.
        env = {**self.env, "LIMS_VAR_DIR": str(var)}
        log = (var / "process.log").open("ab")
        if not background:
            done = subprocess.run(
                ["bash", "-c", command], cwd=ROOT, env=env, stdout=log, stderr=log, timeout=300
            )
            assert done.returncode == 0, f"{command!r} failed:\n{self.log(name)}"
            return None
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.running.append((name, process))
        return process

    def log(self, name: str) -> str:
        path = self.base / name / "process.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        for _, process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            if process.returncode not in (0, -signal.SIGTERM):
                print(f"---- {name} log ----\n{self.log(name)}")


def role(command: str) -> str:
    if "gunicorn" in command:
        return "web"
    if " beat" in command:
        return "beat"
    if " worker" in command:
        return "worker"
    return "setup"


@pytest.fixture
def deployment(tmp_path):
    reason = needs_distributed_parts()
    if reason:
        pytest.skip(reason)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))},
        "DATABASE_URL": database_url_of_test_db(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        # A queue of the deployment's own: the integration tests' session worker (test
        # settings, the test run's store prefix) must never take its jobs. It did, when it was
        # alive, and wrote the Parquet under its prefix where the deployment never looks.
        "CELERY_QUEUE": f"lims-production-test-{uuid.uuid4().hex[:8]}",
        "SECRET_KEY": "production-test-not-secret",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LIMS_HTTPS": "0",  # plain http on the loopback (README, Security)
        "LIMS_RECONCILE_EVERY_S": "5",
    }
    processes = Processes(tmp_path, env)
    try:
        for command in production_commands():
            # Configuration only: the port the README's example listens on.
            command = command.replace("0.0.0.0:8000", f"127.0.0.1:{port}")
            kind = role(command)
            processes.run(kind, command, background=kind != "setup")
        yield f"http://127.0.0.1:{port}", processes, tmp_path
    finally:
        processes.stop()


def wait_ready(base_url: str, processes: Processes, timeout: float = 90.0) -> dict:
    import json
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for name, process in processes.running:
            assert process.poll() is None, f"{name} exited:\n{processes.log(name)}"
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            last = exc.read().decode(errors="replace")
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise AssertionError(f"/readyz never answered 200: {last}")


def test_the_readme_production_commands_run_a_working_distributed_site(deployment):
    base_url, processes, var = deployment
    ready = wait_ready(base_url, processes)
    assert ready["status"] == "ok"
    assert {"database", "broker", "worker", "store"} <= set(ready["checks"])

    user = get_user_model().objects.create_user("ops", password="ops-pw-123", is_staff=True)
    factories.join(user, "manager")
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6, "diameter_mm": 12.9, "mass_mg": 250}})

    api = Client(base_url, token_rotate(user).key)
    measured = api.upload(pellet.code, MPT, technique="eis", area_cm2=1, timeout=120)
    sigma = next(r for r in measured["results"] if r["kind"] == "conductivity")
    # The paper's procedure on impedance.py's BioLogic example at 600 µm and 1 cm²; the same
    # number as the single-machine pipeline (tests/measurements/test_fixity.py).
    assert f"{sigma['values']['conductivity_s_cm']:.2e}" == "5.37e-04"

    raw = api.download(measured["files"][0]["download"])
    assert hashlib.sha256(raw).hexdigest() == hashlib.sha256(MPT.read_bytes()).hexdigest()
    parquet = api.download(f"measurements/{measured['code']}/data/", format="parquet")
    assert parquet[:4] == b"PAR1"

    # Nothing was written to a local media directory by any process: the bytes live in the
    # object store only.
    for name in ("web", "worker", "beat"):
        media = var / name / "media"
        stored = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
        assert stored == [], f"{name} wrote {stored[:3]} locally"


def test_the_production_block_lists_every_process():
    roles = [role(c) for c in production_commands()]
    assert roles.count("web") == 1 and roles.count("worker") == 1 and roles.count("beat") == 1
    assert any("migrate" in c for c in production_commands())
    assert all(shlex.split(c) for c in production_commands())
