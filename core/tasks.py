from celery import shared_task

from . import jobs


@shared_task(ignore_result=True)
def reconcile_jobs() -> dict:
    """Beat's periodic pass over the outbox (see `core.jobs.reconcile`)."""
    return jobs.reconcile()
