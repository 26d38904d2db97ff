"""The reconciler's hooks for measurements and temperature series (`core.jobs.reconcile`).

Work that comes back is always a new run (`measurement_reprocess`, `temperature_series_request`):
the original task, if it is only late and not lost, finds its run stale and writes nothing, so a
measurement is never computed into two sets of results.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q
from django.db.models.functions import Cast
from django.utils import timezone

from core import jobs
from core.models import Job
from core.signatures import RecordLocked

from .models import Measurement, Status, TemperatureSeries
from .services import measurement_reprocess, temperature_series_request

log = logging.getLogger(__name__)

PROCESS = "measurements.tasks.process_measurement"
SERIES = "measurements.tasks.update_temperature_series"
WAITING = (Status.QUEUED, Status.PROCESSING)


def measurement_requeue(measurement_id: int, run: int) -> int | None:
    """A lost job of this run: a new run if the measurement still waits for this one (a newer
    run has its own job; a finished one needs nothing)."""
    measurement = Measurement.objects.filter(pk=measurement_id, run=run, status__in=WAITING).first()
    if measurement is None:
        return None
    try:
        new_run = measurement_reprocess(measurement)
    except RecordLocked as exc:
        log.warning("%s not requeued: %s", measurement.code, exc.messages[0])
        return None
    log.warning("requeued %s: run %s lost, now run %s", measurement.code, run, new_run)
    return new_run


def series_requeue(item_id: int, run: int | None = None) -> int | None:
    series = TemperatureSeries.objects.filter(item_id=item_id, status__in=WAITING).first()
    if series is None or (run is not None and series.run != run):
        return None
    new_run = temperature_series_request(item_id).run
    log.warning(
        "requeued temperature series of item %s: run %s lost, now %s", item_id, run, new_run
    )
    return new_run


def _without_job(model, task: str, subject: str):
    """Waiting records with no outstanding job and none that failed within the lease (a task
    that keeps failing is retried once a lease, not every pass)."""
    recently = timezone.now() - timedelta(seconds=settings.LIMS_JOB_LEASE_S)
    job = Job.objects.filter(task=task, subject=Cast(OuterRef(subject), CharField())).filter(
        Q(finished_at__isnull=True) | Q(finished_at__gte=recently)
    )
    return model.objects.filter(status__in=WAITING).exclude(Exists(job))


def requeue_stranded(limit: int) -> int:
    """Backstop: measurements and series sitting queued/processing with no job at all (rows
    from before the outbox, a job row removed by hand). The outbox row is committed with the run
    it is for, so such a record waits for nothing. Each is locked (SKIP LOCKED on PostgreSQL)
    and checked again, so concurrent reconcilers queue it once."""
    count = 0
    for model, task, subject, requeue in (
        (Measurement, PROCESS, "pk", lambda m: measurement_reprocess(m)),
        (TemperatureSeries, SERIES, "item_id", lambda s: temperature_series_request(s.item_id)),
    ):
        stranded = _without_job(model, task, subject)
        for pk in list(stranded.values_list("pk", flat=True)[:limit]):
            try:
                with transaction.atomic():
                    record = stranded.select_for_update(skip_locked=True).filter(pk=pk).first()
                    if record is None:
                        continue
                    requeue(record)
            except RecordLocked as exc:
                # Signed while waiting (a race with the signature): it keeps what was signed.
                log.warning("stranded %s %s left as it is: %s", model.__name__, pk, exc.messages[0])
                continue
            log.warning("requeued stranded %s %s (no job)", model.__name__, pk)
            count += 1
    return count


def register() -> None:
    jobs.register_resender(PROCESS, measurement_requeue)
    jobs.register_resender(SERIES, series_requeue)
    jobs.register_backstop(requeue_stranded)
