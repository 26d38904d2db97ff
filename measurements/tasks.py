"""Thin Celery tasks: ids in, a service does the work.

acks_late + reject_on_worker_lost: a worker killed mid-task leaves the message on the broker
and another worker runs it again; the services are idempotent (numbered runs, results replaced
in one transaction), so a second delivery cannot duplicate results. Only database hiccups are
retried; a bad file is a failed measurement, not a retry.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services

RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY)
def process_measurement(measurement_id: int, run: int) -> str:
    return services.process_measurement(measurement_id, run)


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY)
def update_temperature_series(item_id: int, run: int | None = None) -> str:
    return services.update_temperature_series(item_id, run)


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY)
def reprocess_item_measurements(item_id: int) -> int:
    return services.reprocess_item_measurements(item_id)
