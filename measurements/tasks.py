"""Thin Celery tasks: ids in, a service does the work.

acks_late + reject_on_worker_lost: a worker killed mid-task leaves the message on the broker
and another worker runs it again; the services are idempotent (numbered runs, results replaced
in one transaction), so a second delivery cannot duplicate results. Only database hiccups are
retried; a bad file is a failed measurement, not a retry.
"""

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import services

RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
}
# Read at import (Celery binds limits to the task): the worker is restarted to change it.
LIMITS = {
    "soft_time_limit": settings.LIMS_TASK_TIME_LIMIT_S,
    "time_limit": settings.LIMS_TASK_TIME_LIMIT_S + 30,
}


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY, **LIMITS)
def process_measurement(measurement_id: int, run: int) -> str:
    return services.process_measurement(measurement_id, run)


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY, **LIMITS)
def update_temperature_series(item_id: int, run: int | None = None) -> str:
    return services.update_temperature_series(item_id, run)


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY, **LIMITS)
def reprocess_item_measurements(item_id: int) -> int:
    return services.reprocess_item_measurements(item_id)
