"""A real Celery worker process on the configured broker (Redis in CI) and database.

The worker runs in a working directory of its own. On an object store (LIMS_STORAGE_URL=s3://,
as in CI) it also has its own LIMS_VAR_DIR, hence its own MEDIA_ROOT: it shares nothing with
the test process but the database, the broker and the store, as a worker on another machine.
On the filesystem defaults (`make test` without S3) the store *is* a local directory and the
broker may be kombu's filesystem transport under LIMS_VAR_DIR, so then, and only then, the
worker is given the test process's store directory (and var directory for that broker)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url_of_test_db() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgresql://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    """LIMS_TEST_WORKER_METRICS_PORT if set, else a port the kernel hands out (never in use)."""
    if os.environ.get("LIMS_TEST_WORKER_METRICS_PORT"):
        return int(os.environ["LIMS_TEST_WORKER_METRICS_PORT"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_command(log) -> list[str]:
    """A worker on the tests' queue; prefork with one child, as in production: tests kill that
    child (or the whole worker) mid-task."""
    return [
        sys.executable, "-m", "celery", "-A", "lims", "worker", "--pool=prefork",
        "--concurrency=1", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--without-gossip",
        "--without-mingle", "--without-heartbeat", "--loglevel=info", f"--logfile={log}",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, tmp_path_factory):
    from measurements import storage

    home = tmp_path_factory.mktemp("worker")
    log = home / "worker.log"
    metrics_port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lims.test_settings",
        "DATABASE_URL": database_url_of_test_db(),
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        # Task metrics as in production: children count into files, the main process serves.
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("worker-metrics")),
        "LIMS_WORKER_METRICS_PORT": str(metrics_port),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "LIMS_VAR_DIR": str(home / "var"),
    }
    local = isinstance(storage.backend(), storage.FileSystemStorage)
    if local:
        env["LIMS_STORAGE_URL"] = f"file://{storage.backend().location}"
    if local or settings.CELERY_BROKER_URL.startswith("filesystem:"):
        env["LIMS_VAR_DIR"] = str(settings.VAR_DIR)
    process = subprocess.Popen(worker_command(log), cwd=home, env=env)
    process.log_path = log
    process.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    if log.exists():
        print("---- worker log ----\n" + log.read_text()[-5000:])


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    """Poll until `predicate()` is truthy; the worker runs in another process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection.close()  # a fresh connection sees the worker's committed writes
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
