"""`manage.py backup` / `restore` (issue 11 part 4): the demo study plus real uploaded instrument
files go out to a backup directory and come back into an emptied database and an empty store
with the same records, lineage, results and bytes; a damaged or missing object is reported."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core import selectors as core_selectors
from core.models import AuditEvent, Item, LineageEdge
from measurements import selectors
from measurements.models import CycleRow, Measurement, RawFile, Result
from tests.conftest import token_client
from tests.instrument_files import ROOT
from tests.store import remove, replace, use_private_store

pytestmark = pytest.mark.django_db(transaction=True)
MPT = ROOT / "impedance.py" / "exampleDataBioLogic.mpt"
MACCOR = ROOT / "cellpy" / "maccor_three.txt"
MPT_SHA = hashlib.sha256(MPT.read_bytes()).hexdigest()


def run(*args) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out)
    except CommandError as exc:
        return out.getvalue() + str(exc), exc.returncode
    return out.getvalue(), 0


def upload(api, item: str, technique: str, path, django_capture_on_commit_callbacks, **fields):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/measurements/",
            {
                "item": item,
                "technique": technique,
                **fields,
                "files": [SimpleUploadedFile(path.name, path.read_bytes())],
            },
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    return Measurement.objects.get(code=response.json()["code"])


def snapshot() -> dict:
    """What a restore must bring back, read the way the product reads it."""
    cell = Item.objects.get(code="CELL-0005")
    return {
        "items": list(Item.objects.order_by("code").values_list("code", "kind", "summary")),
        "edges": sorted(
            LineageEdge.objects.values_list("parent__code", "child__code", "role", "amount")
        ),
        "ancestors": [(r.code, r.depth) for r in core_selectors.lineage(cell.pk, "ancestors")],
        "measurements": list(
            Measurement.objects.order_by("code").values_list("code", "item__code", "status", "run")
        ),
        "results": sorted(
            (r.measurement.code if r.measurement else r.item.code, r.kind, json.dumps(r.values))
            for r in Result.objects.select_related("measurement", "item")
        ),
        "cycles": CycleRow.objects.count(),
        "audit": list(
            AuditEvent.objects.order_by("pk").values_list("pk", "action", "model", "object_pk")
        ),
        "users": list(
            get_user_model()
            .objects.order_by("username")
            .values_list("username", "password", "is_staff")
        ),
        "tokens": sorted(Token.objects.values_list("user__username", "key")),
        "raw": sorted(RawFile.objects.values_list("sha256", "size_bytes", "original_name")),
    }


@pytest.fixture
def stores(settings, tmp_path):
    use_private_store(settings, tmp_path / "store")
    return tmp_path


@pytest.fixture
def study(stores, demo, staff, django_capture_on_commit_callbacks):
    """The demo records and lineage, a real BioLogic EIS export on a demo pellet and a real
    Maccor cycling file on a demo full cell, processed (tasks in-process)."""
    api = token_client(staff)
    eis = upload(
        api, "PEL-0003", "eis", MPT, django_capture_on_commit_callbacks,
        area_cm2=1.0, temperature_c=25,
    )  # fmt: skip
    cycling = upload(
        api, "CELL-0005", "cycling", MACCOR, django_capture_on_commit_callbacks, active_mass_mg=3
    )
    for m in (eis, cycling):
        m.refresh_from_db()
        assert m.status in ("done", "done_with_warnings"), (m.code, m.status_detail)
    return eis, cycling


def test_round_trip_into_an_empty_database_and_store(
    study, stores, settings, staff, django_capture_on_commit_callbacks
):
    eis, cycling = study
    before = snapshot()
    frame = selectors.parsed_frame(cycling)
    sigma = Result.objects.get(measurement=eis, kind="conductivity").values
    key = Token.objects.get(user=staff).key

    text, status = run("backup", str(stores / "bk"), "--with-objects")
    assert status == 0, text
    manifest = json.loads((stores / "bk" / "manifest.json").read_text())
    kinds = [(e["kind"], e["state"], e["copied"]) for e in manifest["objects"]]
    assert kinds.count(("raw", "ok", True)) == 2 and kinds.count(("parquet", "ok", True)) == 2
    raw = next(e for e in manifest["objects"] if e["sha256"] == MPT_SHA)
    assert raw["size"] == MPT.stat().st_size
    assert (stores / "bk" / "objects" / raw["key"]).read_bytes() == MPT.read_bytes()

    # A new machine: the database emptied, an empty store.
    call_command("flush", interactive=False, verbosity=0)
    assert not Item.objects.exists()
    use_private_store(settings, stores / "new-store")
    text, status = run("restore", str(stores / "bk"))
    assert status == 0, text
    assert "4 of 4 objects verified in the store" in text

    assert snapshot() == before
    restored_cycling = Measurement.objects.get(code=cycling.code)
    assert selectors.parsed_frame(restored_cycling).equals(frame)
    assert Result.objects.get(measurement__code=eis.code, kind="conductivity").values == sigma
    # The same token still opens the API; the raw file downloads with the same bytes.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    download = api.get(f"/api/raw-files/{MPT_SHA}/")
    assert download.status_code == 200
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == MPT_SHA
    # New records continue after the restored ones (sequences and code counters came back).
    again = upload(
        api, "PEL-0003", "eis", MPT, django_capture_on_commit_callbacks,
        area_cm2=1.0, temperature_c=60,
    )  # fmt: skip
    assert again.pk > max(m.pk for m in (eis, cycling))
    assert again.code not in {c for c, *_ in before["measurements"]}
    again.refresh_from_db()
    assert again.status in ("done", "done_with_warnings"), again.status_detail

    # A second restore into the now filled database is refused, naming --force.
    text, status = run("restore", str(stores / "bk"))
    assert status == 1 and "not empty" in text and "--force" in text
    text, status = run("restore", str(stores / "bk"), "--force")
    assert status == 0, text
    assert snapshot() == before


def test_without_objects_restore_checks_the_store_it_is_given(study, stores, settings):
    text, status = run("backup", str(stores / "bk"))
    assert status == 0, text
    assert not (stores / "bk" / "objects").exists()
    call_command("flush", interactive=False, verbosity=0)
    use_private_store(settings, stores / "empty-store")
    text, status = run("restore", str(stores / "bk"))
    assert status == 1
    assert f"MISSING raw/{MPT_SHA[:2]}/{MPT_SHA}: not in the store after restore" in text
    assert "0 of 4 objects verified" in text
    assert Measurement.objects.count() == 2  # the database is restored all the same


def test_a_damaged_object_is_reported_and_never_copied(study, stores):
    eis, _ = study
    data = bytearray(MPT.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the stored object
    replace(MPT_SHA, bytes(data))
    actual = hashlib.sha256(data).hexdigest()

    text, status = run("backup", str(stores / "bk"), "--with-objects")
    assert status == 1
    assert f"DAMAGED raw/{MPT_SHA[:2]}/{MPT_SHA}: bytes hash to {actual}" in text
    assert f"used by {eis.code}" in text and "--allow-damaged" in text
    manifest = json.loads((stores / "bk" / "manifest.json").read_text())
    entry = next(e for e in manifest["objects"] if e["sha256"] == MPT_SHA)
    assert (entry["state"], entry["actual_sha256"], entry["copied"]) == ("damaged", actual, False)
    assert not (stores / "bk" / "objects" / entry["key"]).exists()
    assert manifest["problems"] == 1

    remove(MPT_SHA)
    text, status = run("backup", str(stores / "bk2"), "--allow-damaged")
    assert status == 0
    assert f"MISSING raw/{MPT_SHA[:2]}/{MPT_SHA}: not in the store; used by {eis.code}" in text


def test_refuses_a_used_directory_and_a_tampered_dump(study, stores):
    (stores / "used").mkdir()
    (stores / "used" / "other.txt").write_text("someone's file")
    text, status = run("backup", str(stores / "used"))
    assert status == 1 and "is not empty" in text
    assert (stores / "used" / "other.txt").read_text() == "someone's file"

    assert run("backup", str(stores / "bk"))[1] == 0
    dump = stores / "bk" / "database.json"
    dump.write_text(dump.read_text().replace("PEL-0003", "PEL-0103"))
    call_command("flush", interactive=False, verbosity=0)
    text, status = run("restore", str(stores / "bk"))
    assert status == 1 and "database.json is damaged" in text
    assert not Item.objects.exists()
    text, status = run("restore", str(stores / "nothing-here"))
    assert status == 1 and "no manifest.json" in text
