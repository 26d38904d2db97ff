"""Thin Celery tasks: ids in, a service does the work.

acks_late + reject_on_worker_lost: a worker killed mid-task leaves the message on the broker
and another worker runs it again; the services are idempotent (numbered runs, results replaced
in one transaction), so a second delivery cannot duplicate results. Only database hiccups are
retried; a bad file is a failed measurement, not a retry.
"""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
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


@contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    """SoftTimeLimitExceeded after ``seconds``, also where Celery enforces no limit: the solo
    pool of `make run` (scripts/run.sh) and eager runs ignore time_limit. Only in the main
    thread, where a signal can be handled; elsewhere the Celery limits are all there is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise SoftTimeLimitExceeded(f"{seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY, **LIMITS)
def process_measurement(measurement_id: int, run: int) -> str:
    with _alarm(settings.LIMS_TASK_TIME_LIMIT_S):
        return services.process_measurement(measurement_id, run)


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY, **LIMITS)
def update_temperature_series(item_id: int, run: int | None = None) -> str:
    return services.update_temperature_series(item_id, run)


@shared_task(acks_late=True, reject_on_worker_lost=True, **RETRY, **LIMITS)
def reprocess_item_measurements(item_id: int) -> int:
    return services.reprocess_item_measurements(item_id)
