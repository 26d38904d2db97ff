"""A whole project's ELN file, written in the background.

A project with its raw files can take minutes to pack, longer than a request may take (and a
web process should not hold a worker's memory for it). Asking for one queues a job; a worker
writes the file (`eln.export_eln`, as for one item or a selection) into the object store, where
any web process can serve it; the page and `GET /api/projects/<code>/exports/<id>/` say how far
it is. The file holds what the user who asked may see, so only they may download it. Their next
export of the same project replaces it (the object is deleted).
"""

from __future__ import annotations

import logging
import tempfile

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from core import permissions
from core.audit import record_event
from core.jobs import enqueue
from core.models import ExportStatus, Project, ProjectExport
from core.projects import exports_of
from measurements import storage

from . import eln

log = logging.getLogger(__name__)

TASK = "lims.tasks.write_project_export"


def export_of(user, project: Project, export_id) -> ProjectExport | None:
    return exports_of(user, project).filter(pk=export_id).first()


def request_project_export(project: Project, *, user, base_url: str) -> ProjectExport:
    """Queue the export of every item of `project` for `user` (who must see the project); an
    export of theirs already queued or being written is answered instead of a second one."""
    if not permissions.can_view(user, project):
        raise PermissionError(f"No project {project.code} of yours.")
    if not project.items.exists():
        raise eln.ExportRefused(f"project {project.code} has no items to export yet")
    with transaction.atomic():
        # One at a time per user and project: pressing the button twice queues one job.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        pending = exports_of(user, project).filter(
            status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
        )
        if (export := pending.first()) is not None:
            return export
        export = ProjectExport.objects.create(project=project, requested_by=user, base_url=base_url)
        record_event(
            "export",
            model="lims.projectexport",
            object_pk=str(export.pk),
            object_repr=f"export of project {project.code} requested",
            after={"project": project.code, "items": project.items.count()},
            user=user,
        )
        enqueue(TASK, export.pk)
    return export


def _finish(export_id: int, **fields) -> None:
    ProjectExport.objects.filter(pk=export_id).update(finished_at=timezone.now(), **fields)


def write_project_export(export_id: int) -> str:
    """The worker's part: write the file into the store and say so on the export's row. Run
    again (a re-delivered job) it does nothing more to a finished export. A failure is kept on
    the row in the user's words; only database hiccups propagate (the task retries those)."""
    export = ProjectExport.objects.select_related("project", "requested_by").get(pk=export_id)
    if not export.pending:
        return f"export {export_id} already {export.status}"
    ProjectExport.objects.filter(pk=export_id).update(
        status=ExportStatus.RUNNING, started_at=timezone.now()
    )
    project = export.project
    items = [item.specific for item in project.items.order_by("created_at", "pk")]
    key = f"exports/{export.pk}/{export.filename}"
    try:
        with tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as spool:
            eln.export_eln(
                items,
                spool,
                base_url=export.base_url,
                user=export.requested_by,
                name=f"{project.code}-project",
            )
            spool.flush()
            size = spool.tell()
            spool.seek(0)
            sha256 = storage.hash_stream(spool)
            spool.seek(0)
            storage.put_derived(key, spool)
    except DatabaseError:
        raise
    except (storage.Damaged, eln.ExportRefused) as exc:
        _finish(export_id, status=ExportStatus.FAILED, error=f"Not written: {exc}.")
        return "failed"
    except SoftTimeLimitExceeded:
        limit = settings.LIMS_TASK_TIME_LIMIT_S
        _finish(
            export_id,
            status=ExportStatus.FAILED,
            error=f"Not written: the export took longer than the workers' limit of {limit} s "
            "(LIMS_TASK_TIME_LIMIT_S). Export a selection of the items instead, or ask for a "
            "higher limit.",
        )
        return "failed"
    except Exception as exc:  # any other fault: a failed export, not one queued forever
        log.exception("export %s of project %s failed", export_id, project.code)
        reason = (
            "the object store did not answer; ask for the export again"
            if storage.is_transient(exc)
            else "an unexpected error (the worker's log has the details)"
        )
        _finish(export_id, status=ExportStatus.FAILED, error=f"Not written: {reason}.")
        return "failed"
    _finish(
        export_id,
        status=ExportStatus.DONE,
        items=len(items),
        size_bytes=size,
        sha256=sha256,
        key=key,
    )
    _drop_older(export)
    return "done"


def _drop_older(export: ProjectExport) -> None:
    """Earlier finished exports of the same project by the same user: objects and rows go."""
    older = exports_of(export.requested_by, export.project).filter(pk__lt=export.pk)
    for old in older.exclude(status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]):
        if old.key:
            storage.delete(old.key)
        old.delete()


class ExportUnavailable(Exception):
    """An export whose file cannot be handed out (not written yet, failed, or gone from the
    store); the message says which, for the page and the API alike."""


def open_export(export: ProjectExport):
    """The finished export's bytes, streamed from the store."""
    if export.status != ExportStatus.DONE:
        reason = f": {export.error}" if export.error else ""
        state = export.get_status_display().lower()
        raise ExportUnavailable(f"Export {export.pk} of {export.project.code} is {state}{reason}")
    try:
        return storage.stream_derived(export.key)
    except FileNotFoundError:
        raise ExportUnavailable(
            f"The file of export {export.pk} is no longer in the store; ask for a new one"
        ) from None
