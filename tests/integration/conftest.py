"""A real Celery worker process on the configured broker (Redis in CI) and database."""

from __future__ import annotations

import os
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
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lims.test_settings",
        "DATABASE_URL": database_url_of_test_db(),
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    process = subprocess.Popen(worker_command(log), cwd=ROOT, env=env)
    process.log_path = log
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
