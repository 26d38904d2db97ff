from core.jobs import lab_task

from . import services


@lab_task
def refresh_cell_derived(cell_id: int) -> bool:
    return services.cell_refresh_derived(cell_id)
