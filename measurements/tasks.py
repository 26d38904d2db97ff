"""Thin Celery tasks: ids in, a service does the work.

Every task has the same delivery rules and limits (`core.jobs.lab_task`): a worker killed
mid-task leaves the message on the broker and another worker runs it again; the services are
idempotent (numbered runs, results replaced in one transaction), so a second delivery cannot
duplicate results. Only database hiccups are retried; a bad file is a failed measurement, not a
retry.
"""

from core.jobs import lab_task

from . import services


@lab_task
def process_measurement(measurement_id: int, run: int) -> str:
    return services.process_measurement(measurement_id, run)


@lab_task
def update_temperature_series(item_id: int, run: int | None = None) -> str:
    return services.update_temperature_series(item_id, run)


@lab_task
def reprocess_item_measurements(item_id: int) -> int:
    return services.reprocess_item_measurements(item_id)
