"""The worker's task metrics (issue 11 part 4): counted by Celery signals in the prefork child
that runs the task, served by the worker main process from PROMETHEUS_MULTIPROC_DIR. A real
worker process runs a real BioLogic EIS export (impedance.py's test data, MIT)."""

from __future__ import annotations

import urllib.request

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from prometheus_client.parser import text_string_to_metric_families

from lims.celery import app as celery_app
from measurements import services
from measurements.models import Measurement
from synthesis.services import pellets_measure
from tests import factories
from tests.instrument_files import ROOT
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
MPT = ROOT / "impedance.py" / "exampleDataBioLogic.mpt"
TASK = "measurements.tasks.process_measurement"


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def served(url: str):
    try:
        return scrape(url)
    except OSError:  # the worker is still starting
        return None


def measure(pellet, content: bytes, name: str) -> Measurement:
    """Create the measurement as the upload does; its task goes to the real worker on commit."""
    m = services.measurement_create(
        item=pellet,
        fields={"technique": "eis", "area_cm2": 1.0, "temperature_c": 25},
        uploads=[SimpleUploadedFile(name, content)],
    )

    def finished():
        m.refresh_from_db()
        return m if m.status not in ("queued", "processing") else None

    return wait_for(finished, timeout=120)


def test_a_real_task_in_a_prefork_child_moves_the_counters_and_the_histogram(celery_worker_process):
    url = celery_worker_process.metrics_url
    # {} until a first task has run: nothing counted yet is an empty page, which is served
    before = wait_for(lambda: (s := served(url)) is not None and [s], timeout=60)[0]
    done_key = ("lims_task_duration_seconds_count", (("state", "success"), ("task", TASK)))
    outcomes = lambda s, o: s.get(("lims_measurement_outcomes_total", (("outcome", o),)), 0)  # noqa: E731

    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6}})
    good = measure(pellet, MPT.read_bytes(), MPT.name)
    assert good.status in ("done", "done_with_warnings"), good.status_detail
    broken = measure(pellet, b"this is not an instrument export\n" * 3, "junk.txt")
    assert broken.status == "failed"

    target = before.get(done_key, 0) + 2
    after = wait_for(lambda: (s := served(url)) and s.get(done_key, 0) >= target and s, timeout=30)
    # At least: a task another test left on the shared worker (a redelivery) may run too.
    assert after[done_key] - before.get(done_key, 0) >= 2
    total = ("lims_task_duration_seconds_sum", (("state", "success"), ("task", TASK)))
    assert after[total] > before.get(total, 0)  # real durations were observed
    buckets = [
        (labels, value)
        for (name, labels), value in after.items()
        if name == "lims_task_duration_seconds_bucket" and ("task", TASK) in labels
    ]
    inf = [
        v for labels, v in buckets if ("le", "+Inf") in labels and ("state", "success") in labels
    ]
    assert inf == [after[done_key]]
    assert outcomes(after, good.status) - outcomes(before, good.status) >= 1
    assert outcomes(after, "failed") - outcomes(before, "failed") >= 1


def test_a_task_that_raises_counts_as_a_failure(celery_worker_process):
    """A task that ends in an exception (here: arguments no sender of the product would send;
    process_measurement turns a bad file into a failed measurement, not an exception)."""
    url = celery_worker_process.metrics_url
    before = wait_for(lambda: (s := served(url)) is not None and [s], timeout=60)[0]
    failures = ("lims_task_failures_total", (("task", TASK),))
    failed_runs = ("lims_task_duration_seconds_count", (("state", "failure"), ("task", TASK)))
    celery_app.send_task(TASK, args=["not-an-id", 1], queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    target = before.get(failures, 0) + 1
    after = wait_for(lambda: (s := served(url)) and s.get(failures, 0) >= target and s, timeout=60)
    assert after[failed_runs] >= before.get(failed_runs, 0) + 1
