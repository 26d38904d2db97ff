"""Thin Celery tasks of the composition layer: ids in, a service does the work."""

from core.jobs import lab_task

from . import exports


@lab_task
def write_project_export(export_id: int) -> str:
    return exports.write_project_export(export_id)
