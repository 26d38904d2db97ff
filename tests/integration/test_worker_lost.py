"""A worker process killed in the middle of a measurement: the message goes back to the broker
(acks_late + reject_on_worker_lost), the next worker process runs it again, and the
measurement finishes once, with one set of results."""

import os
import signal
import subprocess
import time

import pytest
from django.core.files import File
from django.db import connection

from demo.synthetic.files import write_maccor_cycling
from measurements.models import CycleRow, Measurement, Result
from measurements.services import measurement_create
from tests import factories
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def pool_children(worker_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(worker_pid)], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def test_a_worker_killed_mid_task_still_finishes_the_measurement(celery_worker_process, tmp_path):
    cell = factories.full_cell()
    # 1.5 million rows: long enough to be caught in the middle of processing.
    path = write_maccor_cycling(tmp_path / "big.txt", active_mass_mg=cell.active_mass_mg)
    with open(path, "rb") as fh:
        m = measurement_create(
            item=cell, fields={"technique": "cycling"}, uploads=[File(fh, name="big.txt")]
        )
    deadline = time.monotonic() + 60
    while Measurement.objects.get(pk=m.pk).status != "processing":
        assert time.monotonic() < deadline, "the worker never started the measurement"
        connection.close()
        time.sleep(0.01)
    children = pool_children(celery_worker_process.pid)
    assert children, "the worker has no pool process to kill"
    for pid in children:
        os.kill(pid, signal.SIGKILL)

    done = wait_for(
        lambda: (x := Measurement.objects.get(pk=m.pk)).status == "done" and x, timeout=120
    )
    log = celery_worker_process.log_path.read_text()
    assert "WorkerLostError" in log  # the kill really hit a running task
    assert done.run == 1  # the same run, delivered again, not a new one
    assert Result.objects.filter(measurement=m).count() == 2  # summary + rate table, once
    assert CycleRow.objects.filter(measurement=m).count() == 400
    summary = Result.objects.get(measurement=m, kind="cycling_summary").values
    assert summary["retention_pct"] == pytest.approx(82.7, abs=0.1)
    assert celery_worker_process.poll() is None
