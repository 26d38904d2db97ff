from celery import shared_task

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def refresh_cell_derived(cell_id: int) -> bool:
    return services.cell_refresh_derived(cell_id)
