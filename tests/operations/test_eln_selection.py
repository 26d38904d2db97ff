"""Export of several items at once (issue 12 §3): `export_eln` takes any items (a list's
selection, a project's), the API takes `?codes=` or a POSTed list with a bounded count and names
unknown codes; list and search pages have an Export action; staff import an .eln file from a
web page that calls the same service as the API."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core import selectors as core_selectors
from core.models import Item
from lims import eln
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def crate(data: bytes) -> tuple[str, dict]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        (name,) = [n for n in z.namelist() if n.endswith("ro-crate-metadata.json")]
        return name, json.loads(z.read(name))


def with_ancestry(*codes: str) -> set[str]:
    out = set()
    for code in codes:
        item = Item.objects.get(code=code)
        out |= {code, *(r.code for r in core_selectors.lineage(item.pk, "ancestors"))}
    return out


def datasets(metadata: dict) -> set[str]:
    graph = {e["@id"]: e for e in metadata["@graph"]}
    return {
        graph[ref["@id"]]["identifier"]
        for ref in graph["./"]["hasPart"]
        if graph[ref["@id"]]["@type"] == "Dataset"
    }


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_any_iterable_of_items_is_one_crate_with_each_ancestor_once(demo):
    """A queryset (as a project page will pass) works as well as a list."""
    cells = Item.objects.filter(kind="cell").order_by("code")
    out = io.BytesIO()
    eln.export_eln(cells, out)
    name, metadata = crate(out.getvalue())
    codes = [c.code for c in cells]
    assert name == f"{codes[0]}-and-{len(codes) - 1}-more-eln/ro-crate-metadata.json"
    assert datasets(metadata) == with_ancestry(*codes)
    ids = [e["@id"] for e in metadata["@graph"]]
    assert len(ids) == len(set(ids))  # a reagent lot shared by every cell: once
    root = next(e for e in metadata["@graph"] if e["@id"] == "./")
    assert root["name"].startswith(f"{len(codes)} items with their ancestry: {codes[0]}")
    with pytest.raises(eln.ExportRefused, match="no items"):
        eln.export_eln([], io.BytesIO())


def test_a_selection_crate_imports_every_item_and_its_lineage(demo):
    pellet = demo["blocking"].layers.get(side="electrolyte").item.code
    out = io.BytesIO()
    eln.export_eln(eln.items_for_codes(["CELL-0005", pellet]), out)
    report = eln.import_eln(io.BytesIO(out.getvalue()))
    assert set(report.codes) == with_ancestry("CELL-0005", pellet)
    copy = Item.objects.get(code=report.codes["CELL-0005"])
    assert {r.code for r in core_selectors.lineage(copy.pk, "ancestors")} == {
        report.codes[c] for c in with_ancestry("CELL-0005") - {"CELL-0005"}
    }


def test_api_export_of_codes_by_get_and_post(demo, viewer):
    api = token_client(viewer)
    response = api.get("/api/export.eln?codes=cell-0005, CELL-0002,CELL-0005")
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"] == 'attachment; filename="CELL-0005-and-1-more.eln"'
    assert response["X-Content-Type-Options"] == "nosniff"
    _, metadata = crate(body(response))
    assert datasets(metadata) == with_ancestry("CELL-0005", "CELL-0002")

    posted = api.post("/api/export.eln", {"codes": ["CELL-0003"]}, format="json")
    assert posted.status_code == 200
    assert posted["Content-Disposition"] == 'attachment; filename="CELL-0003.eln"'
    assert datasets(crate(body(posted))[1]) == with_ancestry("CELL-0003")
    # OPTIONS describes the body (schemathesis found it a 500 before the view named it).
    options = api.options("/api/export.eln")
    assert options.status_code == 200
    assert options.json()["actions"]["POST"]["codes"]["type"] == "list"


@pytest.mark.parametrize(
    ("method", "payload", "field", "message"),
    [
        (
            "get",
            "?codes=CELL-0005,PEL-9999,NOPE-1",
            "codes",
            "no item with the code PEL-9999, NOPE-1",
        ),
        ("get", "?codes=", "codes", "This field may not be blank."),
        ("get", "?codes= , ", "codes", "no item codes given"),
        ("get", "", "codes", "This field is required."),
        ("get", "?codes=CELL-0005&code=CELL-0002", "code", "No such parameter"),
        (
            "get",
            "?codes=" + ",".join(f"X-{n}" for n in range(201)),
            "codes",
            "201 item codes: at most 200",
        ),
        ("post", {"codes": []}, "codes", "This list may not be empty."),
        ("post", {"codes": "CELL-0005"}, "codes", 'Expected a list of items but got type "str".'),
        ("post", {"codes": ["CELL-0005"], "depth": 2}, "depth", "Unknown field"),
        ("post", {"codes": ["CELL-0005", "CELL-9999"]}, "codes", "no item with the code CELL-9999"),
    ],
)
def test_api_export_refusals_name_the_field(demo, viewer, method, payload, field, message):
    api = token_client(viewer)
    if method == "get":
        response = api.get(f"/api/export.eln{payload}")
    else:
        response = api.post("/api/export.eln", payload, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field]), response.json()


def test_a_huge_list_of_codes_is_refused_by_its_count(demo, viewer):
    """50 000 codes in one address: counted and refused at once, none looked up."""
    codes = ",".join(f"PEL-{n:05d}" for n in range(50_000))
    response = token_client(viewer).post(
        "/api/export.eln", {"codes": codes.split(",")}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "codes": [
            "50000 item codes: at most 200 in one export (their ancestry comes along and does "
            "not count)"
        ]
    }
    root = token_client(viewer).get("/api/").json()
    assert root["export"] == "http://testserver/api/export.eln"


def test_list_and_search_pages_export_the_ticked_or_listed_items(demo, viewer_client):
    page = viewer_client.get("/cells/").content.decode()
    assert 'formaction="/export.eln"' in page and "Export (.eln)" in page
    cells = list(Item.objects.filter(kind="cell").order_by("-created_at", "-pk"))
    listed = "&amp;".join(f"items={c.code}" for c in cells)
    assert f'href="/export.eln?{listed}"' in page
    search = viewer_client.get("/search/?q=CELL-000").content.decode()
    assert 'formaction="/export.eln"' in search and 'data-testid="export-listed"' in search

    # What the form sends when two are ticked: one .eln file of both, with their ancestry.
    response = viewer_client.get("/export.eln?items=CELL-0005&items=CELL-0002")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="CELL-0005-and-1-more.eln"'
    assert datasets(crate(body(response))[1]) == with_ancestry("CELL-0005", "CELL-0002")

    nothing = viewer_client.get("/export.eln")
    assert nothing.status_code == 400
    assert "No item is ticked" in nothing.content.decode()
    unknown = viewer_client.get("/export.eln?items=CELL-0005&items=CELL-9999")
    assert unknown.status_code == 400
    assert "no item with the code CELL-9999" in unknown.content.decode()
    stray = viewer_client.get("/export.eln?items=CELL-0005&sort=code")
    assert stray.status_code == 400 and "Unknown parameter sort" in stray.content.decode()


def test_anonymous_users_are_sent_to_log_in(demo, client):
    response = client.get("/export.eln?items=CELL-0005")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_import_page_calls_the_import_service(demo, staff, viewer, client):
    out = io.BytesIO()
    eln.export_eln(Item.objects.get(code="CELL-0002"), out)
    ancestry = with_ancestry("CELL-0002")

    client.force_login(viewer)
    assert client.get("/import/").status_code == 403  # staff only, like POST /api/import/
    assert 'href="/import/"' not in client.get("/").content.decode()

    client.force_login(staff)
    assert 'href="/import/"' in client.get("/").content.decode()
    form = client.get("/import/")
    assert form.status_code == 200 and 'type="file" name="file"' in form.content.decode()

    missing = client.post("/import/", {})
    assert missing.status_code == 400
    assert "File: choose an .eln file to import." in missing.content.decode()
    count = Item.objects.count()
    bad = client.post("/import/", {"file": SimpleUploadedFile("notes.eln", b"not a zip")})
    assert bad.status_code == 400
    assert "notes.eln was not imported: not a zip file" in bad.content.decode()
    assert Item.objects.count() == count

    done = client.post("/import/", {"file": SimpleUploadedFile("cell.eln", out.getvalue())})
    assert done.status_code == 200
    page = done.content.decode()
    assert f"Imported cell.eln: {len(ancestry)} items" in page
    assert Item.objects.count() == count + len(ancestry)
    # Every code here existed already: each item got a new one, shown beside the old.
    new = Item.objects.filter(notes__contains="its code was CELL-0002").get()
    assert f'<td>CELL-0002</td><td><a href="/items/{new.code}/">{new.code}</a>' in page
    assert new.created_by == staff
    assert new.project.code == "LAB"  # staff's only project they record in

    # Someone who records in two projects chooses one (page and API alike).
    from core.models import Project
    from tests.factories import join

    other = Project.objects.create(code="ISO", name="Another group")
    join(staff, "member", other)
    client.force_login(staff)
    assert 'name="project"' in client.get("/import/").content.decode()
    unchosen = client.post("/import/", {"file": SimpleUploadedFile("cell.eln", out.getvalue())})
    assert unchosen.status_code == 400
    assert "Project: Choose the project this record belongs to." in unchosen.content.decode()
    chosen = client.post(
        "/import/", {"file": SimpleUploadedFile("cell.eln", out.getvalue()), "project": "ISO"}
    )
    assert chosen.status_code == 200, chosen.content.decode()[-600:]
    assert Item.objects.filter(project=other).count() == len(ancestry)
    api = token_client(staff)
    answer = api.post(
        "/api/import/",
        {"file": SimpleUploadedFile("cell.eln", out.getvalue()), "project": "NOPE"},
        format="multipart",
    )
    assert answer.status_code == 400
    assert answer.json() == {"project": ["No project 'NOPE' of yours."]}


def test_a_damaged_raw_file_refuses_the_export_naming_it(
    settings, tmp_path, demo, staff, viewer, viewer_client, django_capture_on_commit_callbacks
):
    """An export never ships bytes the store cannot vouch for: 409 from the API, and the
    list page's export says which file, instead of a broken download."""
    from tests.operations.test_eln import MPT, MPT_SHA, upload
    from tests.store import replace, use_private_store

    use_private_store(settings, tmp_path / "store")
    blocking = demo["blocking"].code
    pellet = demo["blocking"].layers.get(side="electrolyte").item.code
    eis = dict(area_cm2=1.0, temperature_c=25)
    upload(token_client(staff), pellet, "eis", MPT, django_capture_on_commit_callbacks, **eis)
    damaged = bytearray(MPT.read_bytes())
    damaged[10] ^= 0x01
    replace(MPT_SHA, bytes(damaged))

    response = token_client(viewer).get(f"/api/export.eln?codes=CELL-0005,{blocking}")
    assert response.status_code == 409 and MPT.name in response.json()["detail"]
    page = viewer_client.get(f"/export.eln?items=CELL-0005&items={blocking}")
    assert page.status_code == 409 and MPT.name in page.content.decode()
    # Items without that file still export.
    assert token_client(viewer).get("/api/export.eln?codes=CELL-0005").status_code == 200


def test_a_project_exports_whole_and_every_export_holds_only_what_the_user_sees(
    demo, viewer, client
):
    """A project's Export gives every item of the project; an ancestor in a project the user
    is not in (a shared lot moved to another group) is left out of every export, and someone
    outside the project gets 404 for its export."""
    from django.contrib.auth import get_user_model

    from core.models import Project
    from tests.factories import join

    other = Project.objects.create(code="ISO", name="Another group")
    pellet = demo["blocking"].layers.get(side="electrolyte").item
    # Setting up the other group's record directly: an item never moves through the product.
    Item.objects.filter(pk=pellet.pk).update(project=other)
    cell = demo["blocking"].code
    lab_items = set(Item.objects.filter(project__code="LAB").values_list("code", flat=True))

    api = token_client(viewer)
    response = api.get("/api/projects/lab/export.eln")
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"] == 'attachment; filename="LAB-project.eln"'
    folder, metadata = crate(body(response))
    assert folder == "LAB-project-eln/ro-crate-metadata.json"
    assert datasets(metadata) == lab_items
    assert pellet.code not in lab_items

    # The cell's own export: its hidden pellet is left out, its other ancestors come along.
    single = api.get(f"/api/items/{cell}/export.eln")
    assert datasets(crate(body(single))[1]) == with_ancestry(cell) - {pellet.code} - (
        with_ancestry(pellet.code) - lab_items
    )
    battinfo = api.get(f"/api/items/{cell}/battinfo.jsonld")
    assert battinfo.status_code == 200
    nodes = {node["@id"] for node in json.loads(battinfo.content)["@graph"]}
    assert f"items/{cell}/" in nodes
    assert f"items/{pellet.code}/" not in nodes  # no node (fields, results) for the hidden one
    assert api.get(f"/api/export.eln?codes={pellet.code}").status_code == 400

    outsider = join(
        get_user_model().objects.create_user("olga", password="pw-olga-1234"), "member", other
    )
    refused = token_client(outsider).get("/api/projects/LAB/export.eln")
    assert refused.status_code == 404
    assert token_client(outsider).get("/api/projects/ISO/export.eln").status_code == 200

    client.force_login(viewer)
    page = client.get("/projects/LAB/")
    assert b'action="/projects/LAB/export/"' in page.content
