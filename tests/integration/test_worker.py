"""The whole path through a real worker process: a change is committed, a task is queued on
the broker, the worker recomputes and writes back to the database."""

import pytest

from cells.models import Cell
from synthesis.services import electrode_disk_update
from tests import factories
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_changing_a_disk_loading_makes_the_worker_recompute_the_cell(celery_worker_process):
    disk = factories.cathode_disks(count=1, loading=2.7)[0]
    cell = factories.full_cell(disk=disk)
    assert round(cell.active_mass_mg, 3) == 3.054

    electrode_disk_update(disk, fields={"active_loading_mg_cm2": 12.0})

    # 12 mg/cm2 on a 12 mm disk (1.131 cm2) is 13.57 mg, done by the worker, not by us.
    wait_for(lambda: round(Cell.objects.get(pk=cell.pk).active_mass_mg, 2) == 13.57)
    assert celery_worker_process.poll() is None


def test_a_task_for_a_deleted_cell_leaves_the_worker_healthy(celery_worker_process):
    from cells.tasks import refresh_cell_derived

    refresh_cell_derived.delay(987654321)
    disk = factories.cathode_disks(count=1, loading=2.7)[0]
    cell = factories.full_cell(disk=disk)
    electrode_disk_update(disk, fields={"active_loading_mg_cm2": 5.4})
    # 5.4 mg/cm2 is twice the loading: 6.107 mg instead of 3.054 mg.
    wait_for(lambda: round(Cell.objects.get(pk=cell.pk).active_mass_mg, 3) == 6.107)
    assert celery_worker_process.poll() is None


def test_a_project_export_is_written_by_the_worker_into_the_shared_store(
    celery_worker_process, staff
):
    """The worker (its own directory; on S3 in CI, no shared disk) writes the project's .eln
    into the object store; this process reads it back, intact, with every item's folder."""
    import hashlib
    import io
    import json
    import zipfile
    from contextlib import closing

    from core.models import Project, ProjectExport
    from lims import exports

    cell = factories.full_cell()
    project = Project.objects.get(code="LAB")
    export = exports.request_project_export(project, user=staff, base_url="http://lab.test/")
    done = wait_for(
        lambda: ProjectExport.objects.filter(pk=export.pk, status__in=["done", "failed"]).first()
    )
    assert done.status == "done", done.error
    with closing(exports.open_export(done)) as stream:
        data = stream.read()
    assert hashlib.sha256(data).hexdigest() == done.sha256 and len(data) == done.size_bytes
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        metadata = json.loads(z.read("LAB-project-eln/ro-crate-metadata.json"))
    codes = set(project.items.values_list("code", flat=True))
    assert cell.code in codes and done.items == len(codes)
    described = {e.get("identifier") for e in metadata["@graph"] if e["@type"] == "Dataset"}
    assert codes <= described
    assert celery_worker_process.poll() is None
