"""ELN (.eln, RO-Crate 1.1) export and import (issue 12 §3): an item with its ancestry goes out
with its raw files, Parquet and results, and comes back into an emptied database and an empty
store with the same items, lineage, raw bytes and (recomputed) results; bad crates are refused
with a message naming what is wrong."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from core import selectors as core_selectors
from core import services as core_services
from core.models import Item, LineageEdge
from lims import eln
from measurements.models import Measurement, RawFile, Result
from tests.conftest import token_client
from tests.factories import join
from tests.instrument_files import ROOT
from tests.operations.test_backup import upload as upload_processed
from tests.store import replace, stored, use_private_store

pytestmark = pytest.mark.django_db(transaction=True)
MPT = ROOT / "impedance.py" / "exampleDataBioLogic.mpt"
MACCOR = ROOT / "cellpy" / "maccor_three.txt"
MPT_SHA = hashlib.sha256(MPT.read_bytes()).hexdigest()


def upload(api, item, technique, path, capture, **fields) -> Measurement:
    m = upload_processed(api, item, technique, path, capture, **fields)
    m.refresh_from_db()
    assert m.status in ("done", "done_with_warnings"), m.status_detail
    return m


def snapshot(code: str) -> dict:
    """The item's ancestry as the product reads it: records, edges, files, results."""
    item = Item.objects.get(code=code)
    codes = [code, *(r.code for r in core_selectors.lineage(item.pk, "ancestors"))]
    items = Item.objects.filter(code__in=codes).order_by("code")
    return {
        "items": [(i.code, i.kind, i.summary, i.notes) for i in items],
        "records": {i.code: eln._record(i.specific) for i in items},
        "parts": {i.code: eln._parts(i.specific) for i in items},
        "edges": sorted(
            LineageEdge.objects.filter(child__code__in=codes).values_list(
                "parent__code", "child__code", "role", "amount", "amount_unit"
            )
        ),
        "measurements": sorted(
            Measurement.objects.filter(item__code__in=codes).values_list(
                "code", "item__code", "technique", "status", "temperature_c", "area_cm2"
            )
        ),
        "files": sorted(
            RawFile.objects.filter(uses__measurement__item__code__in=codes).values_list(
                "sha256", "size_bytes"
            )
        ),
        "results": sorted(
            (r.measurement.code, r.kind, json.dumps(r.values, sort_keys=True), r.algorithm_version)
            for r in Result.objects.filter(measurement__item__code__in=codes).select_related(
                "measurement"
            )
        ),
    }


def export(code: str) -> bytes:
    out = io.BytesIO()
    eln.export_eln(Item.objects.get(code=code).specific, out)
    return out.getvalue()


@pytest.fixture
def study(settings, tmp_path, demo, staff, django_capture_on_commit_callbacks):
    use_private_store(settings, tmp_path / "store")
    api = token_client(staff)
    pellet = demo["blocking"].layers.get(side="electrolyte").item.code
    eis = upload(
        api, pellet, "eis", MPT, django_capture_on_commit_callbacks, area_cm2=1.0, temperature_c=25
    )
    cycling = upload(
        api, "CELL-0005", "cycling", MACCOR, django_capture_on_commit_callbacks, active_mass_mg=3
    )
    return demo["blocking"].code, eis, cycling


def crate(data: bytes) -> tuple[str, dict]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        (name,) = [n for n in z.namelist() if n.endswith("ro-crate-metadata.json")]
        return name, json.loads(z.read(name))


def test_the_export_is_an_eln_file_with_hashed_files(study):
    cell, eis, _ = study
    name, metadata = crate(export(cell))
    assert name == f"{cell}-eln/ro-crate-metadata.json"  # one top folder
    graph = {e["@id"]: e for e in metadata["@graph"]}
    assert metadata["@context"] == "https://w3id.org/ro/crate/1.1/context"
    assert graph["ro-crate-metadata.json"]["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.1"}
    assert graph["./"]["mainEntity"] == {"@id": f"./{cell}/"}
    pellet = graph[f"./{eis.item.code}/"]
    assert pellet["additionalType"] == "pellet"
    assert {"@id": f"./{eis.item.code}/"} in graph[f"./{cell}/"]["isBasedOn"]
    measurement = graph[f"./{eis.item.code}/{eis.code}/"]
    files = [graph[p["@id"]] for p in measurement["hasPart"]]
    raw = next(f for f in files if f["sha256"] == MPT_SHA)
    assert raw["contentSize"] == str(MPT.stat().st_size) and raw["name"] == MPT.name
    parquet = next(f for f in files if f["encodingFormat"] == "application/vnd.apache.parquet")
    with zipfile.ZipFile(io.BytesIO(export(cell))) as z:
        assert z.read(f"{cell}-eln/{raw['@id'][2:]}") == MPT.read_bytes()
        assert (
            hashlib.sha256(z.read(f"{cell}-eln/{parquet['@id'][2:]}")).hexdigest()
            == (parquet["sha256"])
        )
    sigma = Result.objects.get(measurement=eis, kind="conductivity")
    result = graph[f"#result-{eis.code}-conductivity"]
    assert json.loads(result["value"]) == sigma.values
    assert result["measurementTechnique"] == sigma.algorithm_version


def test_a_third_party_ro_crate_reader_opens_it(study, tmp_path):
    """rocrate (the RO-Crate community's Python library) reads the unzipped top folder: the
    root dataset, the item datasets and the files with their hashes, nothing broken."""
    from rocrate.rocrate import ROCrate

    cell, eis, _ = study
    with zipfile.ZipFile(io.BytesIO(export(cell))) as z:
        z.extractall(tmp_path / "unzipped")
    read = ROCrate(tmp_path / "unzipped" / f"{cell}-eln")
    # (the reader drops the leading "./" of the ELN spec's ids: the same relative paths)
    assert read.root_dataset["mainEntity"].id == f"{cell}/"
    pellet = read.dereference(f"./{eis.item.code}/")
    assert pellet.type == "Dataset" and pellet["additionalType"] == "pellet"
    assert pellet["author"]["name"] == "alice"
    files = [e for e in read.get_entities() if e.type == "File"]
    raw = next(f for f in files if f["sha256"] == MPT_SHA)
    assert (tmp_path / "unzipped" / f"{cell}-eln" / raw.id.removeprefix("./")).read_bytes() == (
        MPT.read_bytes()
    )
    assert {f["encodingFormat"] for f in files} >= {"application/vnd.apache.parquet"}


def test_the_eln_consortium_conventions_hold(study):
    """What the ELN consortium's checks of an .eln file ask beyond RO-Crate: every entity once
    and typed, `version` and `sdPublisher` on the metadata descriptor, every `hasPart` resolves,
    every Dataset and File has a `name`, no empty values."""
    cell, *_ = study
    _, metadata = crate(export(cell))
    graph = metadata["@graph"]
    ids = [e["@id"] for e in graph]
    assert len(ids) == len(set(ids)) and all(e.get("@type") for e in graph)
    (descriptor,) = [e for e in graph if e["@id"] == "ro-crate-metadata.json"]
    assert descriptor["version"] == "1.0" and descriptor["sdPublisher"]["@id"] in ids
    for entity in graph:
        assert all(part["@id"] in ids for part in entity.get("hasPart", [])), entity["@id"]
        if entity["@type"] in ("Dataset", "File"):
            assert entity.get("name"), entity["@id"]
        assert all(str(v).strip() for v in entity.values()), entity["@id"]
    datasets = [e for e in graph if e["@type"] == "Dataset" and e["@id"] != "./"]
    assert len(datasets) > 8


@pytest.mark.parametrize("which", ["blocking", "CELL-0005"])
def test_round_trip_into_an_empty_database_and_store(
    study, which, settings, tmp_path, staff, django_capture_on_commit_callbacks
):
    code = study[0] if which == "blocking" else which
    before = snapshot(code)
    assert before["results"] and before["files"] and len(before["items"]) > 4
    data = export(code)

    call_command("flush", interactive=False, verbosity=0)
    assert not Item.objects.exists()
    use_private_store(settings, tmp_path / "new-store")
    assert stored(MPT_SHA) is None
    # The operator has an account here too (found by user name; else the field stays empty).
    alice = join(get_user_model().objects.create_user("alice", is_staff=True), "manager")
    with django_capture_on_commit_callbacks(execute=True):
        report = eln.import_eln(io.BytesIO(data), user=alice)
    assert report.codes == {c: c for c, *_ in before["items"]}  # codes were free: kept
    assert snapshot(code) == before
    for sha, _ in before["files"]:
        assert hashlib.sha256(stored(sha)).hexdigest() == sha
    # The code counters moved past the kept codes: the next new code is a new one.
    prefix = code.split("-")[0]
    assert core_services.allocate_code(prefix) not in report.codes.values()

    # Imported again: new codes, the old ones noted, the mapping reported; nothing merged.
    with django_capture_on_commit_callbacks(execute=True):
        again = eln.import_eln(io.BytesIO(data))
    assert set(again.codes) == set(report.codes)
    assert not set(again.codes.values()) & set(report.codes.values())
    copy = Item.objects.get(code=again.codes[code])
    assert f"its code was {code}" in copy.notes
    assert [r.code for r in core_selectors.lineage(copy.pk, "ancestors")] and all(
        r.code in again.codes.values() for r in core_selectors.lineage(copy.pk, "ancestors")
    )


def _rewrite(data: bytes, change) -> bytes:
    """The crate with its metadata (and members) changed by `change(members) -> members`."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members = change(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return out.getvalue()


def test_bad_crates_are_refused_naming_what_is_wrong(study):
    cell, eis, _ = study
    data = export(cell)
    count = Item.objects.count()

    def refused(payload: bytes) -> str:
        with pytest.raises(eln.ImportRefused) as caught:
            eln.import_eln(io.BytesIO(payload))
        assert Item.objects.count() == count  # all or nothing
        return str(caught.value)

    assert "not a zip file" in refused(b"PK\x03\x04 not really")
    assert "ro-crate-metadata.json is missing" in refused(
        _rewrite(data, lambda m: {k: v for k, v in m.items() if "metadata" not in k})
    )
    assert "one top folder" in refused(_rewrite(data, lambda m: {**m, "stray.txt": b"x"}))
    assert "not JSON" in refused(
        _rewrite(data, lambda m: {k: b"{" if "metadata" in k else v for k, v in m.items()})
    )

    def flip(members):  # one flipped bit in the raw EIS file
        name = next(k for k in members if k.endswith(MPT.name))
        raw = bytearray(members[name])
        raw[100] ^= 0x01
        return {**members, name: bytes(raw)}

    message = refused(_rewrite(data, flip))
    assert f"raw file {MPT.name}" in message and MPT_SHA in message

    def edit(old: str, new: str):
        def change(members):
            name = next(k for k in members if k.endswith("ro-crate-metadata.json"))
            metadata = json.loads(members[name])
            for entity in metadata["@graph"]:
                if entity.get("propertyID") == "lims:record" and old in entity["value"]:
                    entity["value"] = entity["value"].replace(old, new)
            return {**members, name: json.dumps(metadata).encode()}

        return change

    # An impossible temperature in a measurement: refused by the model's own validators.
    message = refused(_rewrite(data, edit('"temperature_c": 25.0', '"temperature_c": -400.0')))
    assert message.startswith(f"measurement {eis.code}: temperature_c:"), message
    message = refused(_rewrite(data, edit('"kind": "pellet"', '"kind": "spaceship"')))
    assert "unknown kind 'spaceship'" in message
    message = refused(_rewrite(data, edit('"temperature_c": 25.0', '"temperature_c": "warm"')))
    assert f"measurement {eis.code}: temperature_c:" in message
    # Records of another shape (a number where the parts list is): refused, not a server error.
    message = refused(_rewrite(data, edit('"parts": [', '"parts": 7, "x": [')))
    assert "not in the shape this LIMS writes" in message


def test_api_export_and_import(study, staff, viewer, client, django_capture_on_commit_callbacks):
    cell, eis, _ = study
    response = token_client(viewer).get(f"/api/items/{cell.lower()}/export.eln")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{cell}.eln"'
    assert response["X-Content-Type-Options"] == "nosniff"
    data = b"".join(response.streaming_content)
    assert crate(data)[0] == f"{cell}-eln/ro-crate-metadata.json"
    assert token_client(viewer).get("/api/items/PEL-9999/export.eln").status_code == 404

    # The item page links it; a browser login downloads it.
    client.force_login(viewer)
    page = client.get(f"/items/{cell}/").content.decode()
    assert f'href="/api/items/{cell}/export.eln"' in page and "Export (.eln)" in page
    download = client.get(f"/api/items/{cell}/export.eln")
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"

    def post(user, payload, name="study.eln"):
        return token_client(user).post(
            "/api/import/", {"file": SimpleUploadedFile(name, payload)}, format="multipart"
        )

    assert post(viewer, data).status_code == 403  # staff only
    answer = token_client(staff).post("/api/import/", {}, format="multipart")
    assert answer.status_code == 400 and "file" in answer.json()["file"][0]
    answer = post(staff, b"not a zip")
    assert answer.status_code == 400 and "not a zip file" in answer.json()["file"][0]
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(staff, data)
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    new = body["items"][cell]
    assert new != cell and Item.objects.get(code=new).created_by == staff
    assert body["raw_files"] == 1 and set(body["measurements"]) == {eis.code}
    copied = Measurement.objects.get(code=body["measurements"][eis.code])
    assert copied.status in ("done", "done_with_warnings")
    assert (
        Result.objects.get(measurement=copied, kind="conductivity").values
        == Result.objects.get(measurement=eis, kind="conductivity").values
    )


def test_an_export_with_a_damaged_raw_file_is_refused(study, viewer):
    cell, eis, _ = study
    data = bytearray(MPT.read_bytes())
    data[10] ^= 0x01
    replace(MPT_SHA, bytes(data))
    response = token_client(viewer).get(f"/api/items/{cell}/export.eln")
    assert response.status_code == 409
    assert MPT.name in response.json()["detail"]
