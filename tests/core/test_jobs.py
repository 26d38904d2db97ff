"""The outbox (core.jobs): a write never fails because the broker is down, the reconciler sends
what was not sent and re-sends what was lost, a late original run writes nothing, and
reconcilers running at once send each job once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from cells import tasks as cell_tasks
from core import jobs
from core.models import Job
from lims.celery import app as celery_app
from measurements import tasks as measurement_tasks
from measurements.models import Measurement, Result, TemperatureSeries
from synthesis.services import pellets_measure
from tests import factories
from tests.brokers import CLOSED_PORT_BROKER, reset_pools, use_broker
from tests.instrument_files import instrument_file

MPT = instrument_file("impedance.py/exampleDataBioLogic.mpt")
PROCESS = "measurements.tasks.process_measurement"
REFRESH = "cells.tasks.refresh_cell_derived"
REDIS_DB12 = "redis://127.0.0.1:6379/12"


@pytest.fixture(autouse=True)
def queue_folder(tmp_path):
    """The reconciler asks the broker whether it was wiped and whether anything waits: here a
    filesystem queue of the test's own (also in CI, where the configured broker is Redis).
    Celery reads these settings too (lazily, and an eager task acquires a producer), so its
    connection pools are dropped once the real settings are back."""
    with override_settings(
        CELERY_BROKER_URL="filesystem://localhost/",
        CELERY_BROKER_TRANSPORT_OPTIONS={"data_folder_in": str(tmp_path)},
    ):
        yield tmp_path
    reset_pools()


@pytest.fixture
def pellet(db):
    p = factories.pellets(count=1)[0]
    pellets_measure({p: {"thickness_mm": 0.6, "diameter_mm": 12.0}})
    return p


def _age(job: Job, seconds: float, *, started: bool = False) -> None:
    """Pretend the job was sent (and started) `seconds` ago and its message then vanished."""
    past = timezone.now() - timedelta(seconds=seconds)
    Job.objects.filter(pk=job.pk).update(sent_at=past, started_at=past if started else None)


def test_an_upload_with_the_broker_down_answers_201_and_the_reconciler_sends_it(
    api, pellet, django_capture_on_commit_callbacks
):
    with use_broker(CLOSED_PORT_BROKER), django_capture_on_commit_callbacks(execute=True):
        started = time.monotonic()
        m = factories.eis_upload(api, pellet)  # answered 201 (checked there)
        elapsed = time.monotonic() - started
    assert elapsed < 15  # redis-py's own connection retries, then the answer
    assert (m.status, m.run) == ("queued", 1)
    job = Job.objects.get()
    assert (job.task, job.args, job.sent_at) == (PROCESS, [m.pk, 1], None)
    assert "127.0.0.1:9" in job.last_error

    # The broker is back (eager here: the task runs in this process): one pass sends it.
    with django_capture_on_commit_callbacks(execute=True):
        report = jobs.reconcile()
    assert report["sent"] == 1 and report["resent"] == 0
    m.refresh_from_db()
    assert m.status in {"done", "done_with_warnings"} and m.run == 1
    assert Result.objects.filter(measurement=m, kind="conductivity").count() == 1
    # Successful jobs leave no row; the series the EIS result queued ran too.
    assert Job.objects.count() == 0
    assert TemperatureSeries.objects.get(item=pellet).status != "queued"


def test_a_disk_loading_patch_with_the_broker_down_answers_200_and_the_recompute_comes_later(
    api, django_capture_on_commit_callbacks
):
    cell = factories.full_cell()
    disk = cell.layers.get(item__kind="electrode_disk").item.specific
    mass = cell.active_mass_mg
    with use_broker(CLOSED_PORT_BROKER), django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"/api/electrode-disks/{disk.code}/",
            {"active_loading_mg_cm2": disk.active_loading_mg_cm2 * 2},
            format="json",
        )
    assert response.status_code == 200, response.content
    cell.refresh_from_db()
    assert cell.active_mass_mg == pytest.approx(mass)  # not recomputed yet
    job = Job.objects.get(task=REFRESH)
    assert job.args == [cell.pk] and job.sent_at is None

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.reconcile()["sent"] == 1
    cell.refresh_from_db()
    assert cell.active_mass_mg == pytest.approx(2 * mass, rel=1e-9)
    assert not Job.objects.filter(task=REFRESH).exists()


@pytest.mark.parametrize("started", [False, True], ids=["never-started", "never-finished"])
def test_a_lost_message_comes_back_as_a_new_run_and_the_late_original_writes_nothing(
    api, pellet, django_capture_on_commit_callbacks, started
):
    with use_broker(CLOSED_PORT_BROKER), django_capture_on_commit_callbacks(execute=True):
        m = factories.eis_upload(api, pellet)
    original = Job.objects.get(task=PROCESS)
    _age(original, settings.LIMS_JOB_LEASE_S - 5, started=started)
    assert jobs.reconcile() == {"sent": 0, "resent": 0, "stranded": 0, "wiped": False}

    _age(original, settings.LIMS_JOB_LEASE_S + 5, started=started)
    with django_capture_on_commit_callbacks(execute=True):
        report = jobs.reconcile()
    assert report["resent"] == 1
    m.refresh_from_db()
    assert m.run == 2 and m.status in {"done", "done_with_warnings"}
    assert not Job.objects.filter(pk=original.pk).exists()
    results = {r.pk: r.values for r in Result.objects.filter(measurement=m)}
    assert Result.objects.filter(measurement=m, kind="conductivity").count() == 1

    # The original message turns up after all (a worker that was only slow): run 1 is stale.
    assert measurement_tasks.process_measurement.apply(args=[m.pk, 1]).get() == "stale"
    assert {r.pk: r.values for r in Result.objects.filter(measurement=m)} == results
    m.refresh_from_db()
    assert m.run == 2


def test_a_job_waiting_behind_other_messages_is_not_sent_again(
    api, pellet, django_capture_on_commit_callbacks, queue_folder, settings
):
    with use_broker(CLOSED_PORT_BROKER), django_capture_on_commit_callbacks(execute=True):
        m = factories.eis_upload(api, pellet)
    original = Job.objects.get(task=PROCESS)
    _age(original, settings.LIMS_JOB_LEASE_S * 3)
    # A long queue: the message is late, not lost; a new run at the back would chase it.
    waiting = queue_folder / f"1_x.{settings.CELERY_TASK_DEFAULT_QUEUE}.msg"
    waiting.write_text("{}")
    assert jobs.reconcile()["resent"] == 0
    waiting.unlink()  # the queue ran dry and the job never started: its message is lost
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.reconcile()["resent"] == 1
    m.refresh_from_db()
    assert m.run == 2 and m.status in {"done", "done_with_warnings"}


def test_the_backstop_queues_a_measurement_left_queued_without_a_job(
    api, pellet, django_capture_on_commit_callbacks
):
    with use_broker(CLOSED_PORT_BROKER), django_capture_on_commit_callbacks(execute=True):
        m = factories.eis_upload(api, pellet)
    Job.objects.all().delete()  # e.g. queued before the outbox existed
    with django_capture_on_commit_callbacks(execute=True):
        report = jobs.reconcile()
    assert report["stranded"] == 1
    m.refresh_from_db()
    assert m.run == 2 and m.status in {"done", "done_with_warnings"}
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.reconcile()["stranded"] == 0  # nothing waits any more


def test_a_failing_task_keeps_its_row_with_the_error(db, monkeypatch):
    from cells import services as cell_services

    cell = factories.full_cell()

    def broken(cell_id):
        raise ValueError("disk record unreadable")

    monkeypatch.setattr(cell_services, "cell_refresh_derived", broken)
    job = Job.objects.create(task=REFRESH, args=[cell.pk], sent_at=timezone.now())
    # As a worker runs it: the error is caught and recorded, not raised into the caller.
    outcome = cell_tasks.refresh_cell_derived.apply(
        args=[cell.pk], task_id=str(job.pk), throw=False
    )
    assert outcome.state == "FAILURE"
    job.refresh_from_db()
    assert job.finished_at is not None and job.attempts == 1
    assert "disk record unreadable" in job.last_error
    assert jobs.reconcile()["resent"] == 0  # a finished job is not sent again


def test_a_broker_wiped_since_the_last_pass_is_detected_once(db):
    client = redis.Redis.from_url(REDIS_DB12)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    client.flushdb()
    try:
        with use_broker(REDIS_DB12, eager=True):
            broker = jobs._redis()
            epoch, wiped = jobs._broker_epoch(broker)
            assert wiped is True  # a new (or emptied) broker
            assert jobs._broker_epoch(broker) == (epoch, False)
            assert jobs._broker_epoch(broker) == (epoch, False)
            client.flushdb()  # what a restart without persistence does
            later, wiped = jobs._broker_epoch(broker)
            assert wiped is True and later > epoch
            assert jobs._broker_epoch(broker) == (later, False)
            broker.close()
    finally:
        client.flushdb()
        client.close()


def test_every_task_has_the_same_limits_and_beat_runs_the_reconciler(settings):
    limit = settings.LIMS_TASK_TIME_LIMIT_S
    for t in (
        measurement_tasks.process_measurement,
        measurement_tasks.update_temperature_series,
        measurement_tasks.reprocess_item_measurements,
        cell_tasks.refresh_cell_derived,
    ):
        assert (t.soft_time_limit, t.time_limit) == (limit, limit + 30), t.name
        assert t.acks_late and t.reject_on_worker_lost, t.name
    entry = celery_app.conf.beat_schedule["reconcile-jobs"]
    assert entry["task"] == "core.tasks.reconcile_jobs"
    assert entry["schedule"] == settings.LIMS_RECONCILE_EVERY_S
    assert limit + 30 + 60 == settings.LIMS_JOB_LEASE_S


def test_a_series_stuck_past_the_limit_fails_naming_it(
    api, pellet, settings, monkeypatch, django_capture_on_commit_callbacks
):
    # The in-task timer now covers the series task too (the solo pool ignores Celery's limits).
    from measurements import services

    with django_capture_on_commit_callbacks(execute=True):
        factories.eis_upload(api, pellet)
    settings.LIMS_TASK_TIME_LIMIT_S = 1
    monkeypatch.setattr(services, "series_compute", lambda item_id: time.sleep(30))
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        services.temperature_series_request(pellet.pk)
    assert time.monotonic() - started < 10
    series = TemperatureSeries.objects.get(item=pellet)
    assert (series.status, series.status_detail) == (
        "failed",
        "processing took longer than the 1 s limit (LIMS_TASK_TIME_LIMIT_S) and was stopped",
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_reconcilers_send_each_job_once(monkeypatch):
    delivered: list[int] = []
    lock = threading.Lock()

    def record(job, *, retrying=False):
        time.sleep(0.01)  # widen the window in which two passes could take the same row
        with lock:
            delivered.append(job.pk)
        return True

    monkeypatch.setattr(jobs, "_deliver", record)
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6, "diameter_mm": 12.0}})
    measurements = [
        Measurement.objects.get(code=code)
        for code in (
            factories_measurement(pellet),
            factories_measurement(pellet),
            factories_measurement(pellet),
        )
    ]
    lost = list(Job.objects.filter(task=PROCESS))
    for job in lost:
        _age(job, settings.LIMS_JOB_LEASE_S + 5)
    cells = [factories.full_cell() for _ in range(2)]
    unsent = [Job.objects.create(task=REFRESH, args=[c.pk], subject=str(c.pk)) for c in cells * 10]
    delivered.clear()

    barrier = threading.Barrier(4)
    reports, errors = [], []

    def run():
        try:
            barrier.wait()
            reports.append(jobs.reconcile())
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(r["sent"] for r in reports) == len(unsent)
    assert sum(r["resent"] for r in reports) == len(lost)
    new_jobs = list(Job.objects.filter(task=PROCESS).values_list("pk", flat=True))
    # Every unsent row and every new run's job sent exactly once, the lost ones never again.
    assert sorted(delivered) == sorted([j.pk for j in unsent] + new_jobs)
    assert len(new_jobs) == len(measurements)
    for m in measurements:
        m.refresh_from_db()
        assert m.run == 2  # one new run each, not one per reconciler


def factories_measurement(pellet) -> str:
    from measurements.services import measurement_create

    with open(MPT, "rb") as fh:
        m = measurement_create(
            item=pellet,
            fields={"technique": "eis", "temperature_c": 25},
            uploads=[SimpleUploadedFile(MPT.name, fh.read())],
        )
    return m.code
