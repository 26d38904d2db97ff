"""No job lost, none done twice, with a real Redis this test stops and starts (port 16379, no
persistence) and a real prefork worker process: an upload while Redis is down, a worker killed
with SIGKILL mid-task, Redis restarted empty while jobs wait."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import redis
from django.core.files import File
from django.db import connection

from core import jobs
from core.models import Job
from demo.synthetic.files import write_maccor_cycling
from measurements.models import CycleRow, Measurement, Result
from measurements.services import measurement_create
from synthesis.services import pellets_measure
from tests import factories
from tests.brokers import use_broker
from tests.integration.conftest import ROOT, database_url_of_test_db, wait_for, worker_command

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PORT = int(os.environ.get("LIMS_TEST_REDIS_PORT", "16379"))
BROKER = f"redis://127.0.0.1:{PORT}/0"
LEASE_S = 8  # the reconciler's lease and Redis's visibility timeout, small for the test
FINISHED = {"done", "done_with_warnings"}


class RedisServer:
    """A redis-server without persistence: stopping it loses every queued message."""

    def __init__(self, workdir):
        self.workdir, self.process = workdir, None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=PORT)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    yield server
    server.stop()


class Workers:
    def __init__(self, tmp_path, queue):
        self.tmp_path, self.queue, self.processes = tmp_path, queue, []

    def start(self, *, beat: bool = False) -> subprocess.Popen:
        from django.conf import settings

        n = len(self.processes)
        log = self.tmp_path / f"worker{n}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "lims.test_settings",
            "DATABASE_URL": database_url_of_test_db(),
            "CELERY_BROKER_URL": BROKER,
            "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "LIMS_JOB_LEASE_S": str(LEASE_S),
            "LIMS_RECONCILE_EVERY_S": "2",
        }
        command = worker_command(log)
        if beat:
            command += ["-B", f"--schedule={self.tmp_path / f'beat{n}'}"]
        # Its own process group: a test kills the worker and its pool child together.
        process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        process.log_path = log
        self.processes.append(process)
        return process

    def kill(self, process) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
        for process in self.processes:
            if process.log_path.exists():
                print(f"---- {process.log_path.name} ----\n" + process.log_path.read_text()[-3000:])


@pytest.fixture
def workers(tmp_path, settings):
    settings.LIMS_JOB_LEASE_S = LEASE_S  # the reconciler passes this test runs itself
    with use_broker(BROKER):
        group = Workers(tmp_path, settings.CELERY_TASK_DEFAULT_QUEUE)
        yield group
        group.stop_all()


@pytest.fixture
def pellet():
    p = factories.pellets(count=1)[0]
    pellets_measure({p: {"thickness_mm": 0.6, "diameter_mm": 12.0}})
    return p


def _reconcile_until(predicate, timeout: float = 90.0):
    """What beat does: a reconcile pass every second, until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection.close()
        value = predicate()
        if value:
            return value
        jobs.reconcile()
        time.sleep(1)
    raise AssertionError(f"condition not met within {timeout} s")


def _no_outstanding_jobs() -> bool:
    return not Job.objects.filter(finished_at__isnull=True).exists()


def test_an_upload_while_redis_is_down_is_done_once_redis_and_beat_are_back(
    redis_server, workers, api, pellet
):
    started = time.monotonic()
    m = factories.eis_upload(api, pellet)  # nothing listens on the port yet
    assert time.monotonic() - started < 15
    assert Job.objects.get(task="measurements.tasks.process_measurement").sent_at is None

    redis_server.start()
    workers.start(beat=True)  # beat inside the worker runs the reconciler every 2 s
    done = wait_for(lambda: (x := Measurement.objects.get(pk=m.pk)).status in FINISHED and x, 90)
    assert done.run == 1  # sent late, not re-run
    assert Result.objects.filter(measurement=m, kind="conductivity").count() == 1
    wait_for(_no_outstanding_jobs, 30)
    assert "reconcile: {'sent': 1" in workers.processes[0].log_path.read_text()


def test_a_worker_killed_with_its_pool_mid_task_comes_back_through_the_reconciler(
    redis_server, workers, tmp_path
):
    redis_server.start()
    assert jobs.reconcile()["wiped"] is True  # the marker is set: what follows is no wipe
    worker = workers.start()
    cell = factories.full_cell()
    # 1.5 million rows: a few seconds of work, long enough to be caught in the middle.
    path = write_maccor_cycling(tmp_path / "big.txt", active_mass_mg=cell.active_mass_mg)
    with open(path, "rb") as fh:
        m = measurement_create(
            item=cell, fields={"technique": "cycling"}, uploads=[File(fh, name="big.txt")]
        )
    original = Job.objects.get(task="measurements.tasks.process_measurement", args=[m.pk, 1])
    wait_for(lambda: Measurement.objects.get(pk=m.pk).status == "processing", 90, 0.01)
    workers.kill(worker)  # SIGKILL to the main process and its pool child: a machine lost
    assert Measurement.objects.get(pk=m.pk).status == "processing"

    workers.start()
    done = _reconcile_until(
        lambda: (x := Measurement.objects.get(pk=m.pk)).status in FINISHED and x, 120
    )
    # One set of results whichever came first (Redis's visibility timeout or a new run).
    assert Result.objects.filter(measurement=m).count() == 2  # summary + rate table
    assert CycleRow.objects.filter(measurement=m).count() == 400
    summary = Result.objects.get(measurement=m, kind="cycling_summary").values
    assert summary["retention_pct"] == pytest.approx(82.7, abs=0.1)
    assert done.run >= 1
    _reconcile_until(_no_outstanding_jobs, 60)
    # The killed worker had taken the original job; it is gone (finished or superseded).
    assert f"process_measurement[{original.pk}] received" in worker.log_path.read_text()
    assert not Job.objects.filter(pk=original.pk).exists()


def test_jobs_queued_in_a_redis_restarted_empty_are_all_done_once(
    redis_server, workers, api, pellet
):
    redis_server.start()
    assert jobs.reconcile()["wiped"] is True  # a new broker: the marker is set
    assert jobs.reconcile()["wiped"] is False
    measurements = [factories.eis_upload(api, pellet) for _ in range(4)]  # no worker yet: they wait
    assert Job.objects.filter(sent_at__isnull=False).count() == 4
    assert redis.Redis(port=PORT).llen(workers.queue) == 4

    redis_server.stop()
    redis_server.start()  # empty: the four messages are gone
    assert redis.Redis(port=PORT).llen(workers.queue) == 0
    workers.start()
    report = jobs.reconcile()
    assert report["wiped"] is True and report["resent"] == 4

    def all_done():
        states = list(Measurement.objects.filter(pk__in=[m.pk for m in measurements]))
        return all(x.status in FINISHED for x in states) and states

    done = _reconcile_until(all_done, 120)
    # One new run each: waiting behind each other in the queue is not being lost.
    assert sorted(x.run for x in done) == [2, 2, 2, 2]
    for m in measurements:
        assert Result.objects.filter(measurement=m, kind="conductivity").count() == 1
    _reconcile_until(_no_outstanding_jobs, 60)
