"""A whole project's .eln file, written by a worker job (issue 12 §3): asked on the project page
or with `POST /api/projects/<code>/exports/`, followed to done, downloaded by whom asked (it
holds what they may see), replaced by their next one; a damaged raw file fails it with the
file's name instead of shipping unverified bytes. (Eager tasks here; tests/integration runs
the same through a real worker on the configured broker and store.)"""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import AuditEvent, Item, Project, ProjectExport
from measurements import services, storage
from synthesis.services import pellets_measure
from tests import factories
from tests import store as test_store
from tests.conftest import token_client
from tests.instrument_files import instrument_file
from tests.operations.test_eln_selection import body, crate, datasets

pytestmark = pytest.mark.django_db

MPT = instrument_file("impedance.py/exampleDataBioLogic.mpt")


def _ask(api, capture, code="LAB", execute=True):
    with capture(execute=execute):
        response = api.post(f"/api/projects/{code}/exports/")
    return response


def test_a_project_export_is_written_in_the_background_and_served_to_who_asked(
    demo, viewer, staff, django_capture_on_commit_callbacks
):
    lab_items = set(Item.objects.filter(project__code="LAB").values_list("code", flat=True))
    api = token_client(viewer)  # a viewer reads: exporting is reading
    asked = _ask(api, django_capture_on_commit_callbacks)
    assert asked.status_code == 202, asked.content
    assert asked.json()["status"] == "queued" and asked.json()["download"] is None
    assert asked["Location"] == asked.json()["url"]

    status = api.get(asked.json()["url"]).json()
    assert status["status"] == "done", status
    assert (status["items"], status["project"]) == (len(lab_items), "LAB")
    got = api.get(status["download"])
    assert got.status_code == 200
    assert got["Content-Disposition"] == 'attachment; filename="LAB-project.eln"'
    data = body(got)
    assert (len(data), hashlib.sha256(data).hexdigest()) == (
        status["size_bytes"],
        status["sha256"],
    )
    folder, metadata = crate(data)
    assert folder == "LAB-project-eln/ro-crate-metadata.json"
    assert datasets(metadata) == lab_items
    # The same crate as the direct export of the project's items (one writer, two ways).
    direct = body(api.get("/api/projects/LAB/export.eln"))
    assert datasets(crate(direct)[1]) == datasets(metadata)

    # Only who asked sees it: a manager of the project gets 404, as for an unknown export.
    manager = token_client(staff)
    assert manager.get(asked.json()["url"]).status_code == 404
    assert manager.get(status["download"]).status_code == 404
    assert manager.get("/api/projects/LAB/exports/").json() == []
    event = AuditEvent.objects.get(action="export")
    assert (event.username, event.after["project"]) == ("victor", "LAB")

    # The next export replaces it: the old row and its object go.
    old = ProjectExport.objects.get(pk=status["id"])
    again = _ask(api, django_capture_on_commit_callbacks)
    assert again.json()["id"] != old.pk
    assert api.get(asked.json()["url"]).status_code == 404
    assert not storage.exists(old.key)
    assert [e["id"] for e in api.get("/api/projects/LAB/exports/").json()] == [again.json()["id"]]


def test_asking_twice_while_queued_queues_one_and_refusals_are_clear(
    demo, staff, django_capture_on_commit_callbacks
):
    api = token_client(staff)
    first = _ask(api, django_capture_on_commit_callbacks, execute=False)
    second = _ask(api, django_capture_on_commit_callbacks, execute=False)
    assert first.json()["id"] == second.json()["id"]
    assert ProjectExport.objects.count() == 1
    early = api.get(f"/api/projects/LAB/exports/{first.json()['id']}/download/")
    assert early.status_code == 409
    assert early.json()["detail"] == f"Export {first.json()['id']} of LAB is queued"

    Project.objects.create(code="EMPTY", name="nothing yet")
    from tests.factories import join

    join(staff, "member", Project.objects.get(code="EMPTY"))
    empty = _ask(api, django_capture_on_commit_callbacks, code="empty")
    assert empty.status_code == 409
    assert empty.json()["detail"] == "Project EMPTY has no items to export yet."
    assert _ask(api, django_capture_on_commit_callbacks, code="NOPE").status_code == 404


def test_a_damaged_raw_file_fails_the_export_naming_it(
    staff, settings, tmp_path, django_capture_on_commit_callbacks
):
    test_store.use_private_store(settings, tmp_path)  # bytes are flipped: a private store
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6, "diameter_mm": 12.9, "mass_mg": 250}})
    with django_capture_on_commit_callbacks(execute=True):
        services.measurement_create(
            item=pellet,
            fields={"technique": "eis", "area_cm2": 1.0, "temperature_c": 25},
            uploads=[SimpleUploadedFile(MPT.name, MPT.read_bytes())],
        )
    sha = hashlib.sha256(MPT.read_bytes()).hexdigest()
    data = bytearray(test_store.stored(sha))
    data[len(data) // 2] ^= 0x01
    test_store.replace(sha, bytes(data))

    api = token_client(staff)
    asked = _ask(api, django_capture_on_commit_callbacks)
    status = api.get(asked.json()["url"]).json()
    assert status["status"] == "failed", status
    assert status["error"].startswith("Not written: ") and MPT.name in status["error"]
    refused = api.get(f"/api/projects/LAB/exports/{status['id']}/download/")
    assert refused.status_code == 409 and MPT.name in refused.json()["detail"]


def test_the_project_page_asks_for_the_export_and_offers_the_file(
    demo, viewer, client, django_capture_on_commit_callbacks
):
    client.force_login(viewer)
    page = client.get("/projects/LAB/").content.decode()
    assert 'action="/projects/LAB/export/"' in page and 'data-testid="export-project"' in page
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/projects/LAB/export/", follow=True)
    assert "The export of LAB is being written" in started.content.decode()
    export = ProjectExport.objects.get()
    text = client.get("/projects/LAB/").content.decode()  # the job ran on commit
    assert f'href="/projects/LAB/exports/{export.pk}/download/">LAB-project.eln</a>' in text
    assert "hx-trigger" not in text.split('data-testid="project-exports"')[1].split(">")[0]
    got = client.get(f"/projects/LAB/exports/{export.pk}/download/")
    assert got.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(got.streaming_content))) as z:
        assert "LAB-project-eln/ro-crate-metadata.json" in z.namelist()
    # While one is being written the list polls itself.
    ProjectExport.objects.filter(pk=export.pk).update(status="running")
    part = client.get("/projects/LAB/exports/").content.decode()
    assert 'hx-trigger="every 2s"' in part and "being written…" in part
