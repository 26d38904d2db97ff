"""Raw files whose bytes can be trusted: a stored object whose bytes no longer hash to its
SHA-256 is refused for parsing and download, reported by `check_fixity`, and repaired by
uploading the original bytes again. The file is a real BioLogic EIS export (impedance.py's
test data, MIT). They run on the configured store (the filesystem, or S3 in CI), each test in
a private part of it."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from measurements import services, storage
from measurements.models import Result
from synthesis.services import pellets_measure
from tests import factories
from tests import store as test_store
from tests.instrument_files import ROOT

MPT = ROOT / "impedance.py" / "exampleDataBioLogic.mpt"
PRISTINE = MPT.read_bytes()
SHA = hashlib.sha256(PRISTINE).hexdigest()


@pytest.fixture
def store(settings, tmp_path):
    # Bytes are flipped here: never in a shared store.
    return test_store.use_private_store(settings, tmp_path)


@pytest.fixture
def measured(db, store, django_capture_on_commit_callbacks):
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6, "diameter_mm": 12.9, "mass_mg": 250}})
    with django_capture_on_commit_callbacks(execute=True):
        m = services.measurement_create(
            item=pellet,
            fields={"technique": "eis", "area_cm2": 1.0, "temperature_c": 25},
            uploads=[SimpleUploadedFile(MPT.name, PRISTINE)],
        )
    m.refresh_from_db()
    assert m.status in ("done", "done_with_warnings"), m.status_detail
    return m


def sigma(m) -> float:
    return Result.objects.get(measurement=m, kind="conductivity").values["conductivity_s_cm"]


def flip_a_byte() -> str:
    """Flip one byte in the middle of the stored object (a bit rot); its new hash."""
    data = bytearray(test_store.stored(SHA))
    data[len(data) // 2] ^= 0x01
    test_store.replace(SHA, bytes(data))
    return hashlib.sha256(data).hexdigest()


def rerun(m, capture):
    with capture(execute=True):
        services.measurement_reprocess(m)
    m.refresh_from_db()


def fixity(*args) -> tuple[str, int]:
    """check_fixity's output and exit status."""
    out = io.StringIO()
    try:
        call_command("check_fixity", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc.returncode
    return out.getvalue(), 0


def test_a_flipped_byte_fails_the_run_blocks_download_and_a_reupload_repairs_it(
    measured, staff_client, api, django_capture_on_commit_callbacks
):
    m = measured
    original = sigma(m)
    # 0.06 cm / (111.76 ohm x 1 cm2): the fit's resistance through the pellet's 0.6 mm.
    assert f"{original:.3e}" == "5.369e-04"
    text, status = fixity()
    assert (status, text.startswith("Checked 1 raw files in ")) == (0, True)
    assert text.endswith(" s: 1 ok, 0 damaged, 0 missing.\n")

    actual = flip_a_byte()
    rerun(m, django_capture_on_commit_callbacks)
    assert m.status == "failed"
    assert m.status_detail == (
        f"raw file exampleDataBioLogic.mpt (sha256 {SHA[:12]}…) is damaged in the store: "
        f"its bytes hash to {actual[:12]}…; upload the original file again to repair it"
    )

    web = staff_client.get(f"/measurements/raw/{SHA}/")
    assert web.status_code == 409
    page = web.content.decode()
    assert f"its bytes hash to {actual[:12]}" in page and m.code in page
    response = api.get(f"/api/raw-files/{SHA}/")
    assert response.status_code == 409
    assert response.json() == {"detail": m.status_detail}

    text, status = fixity()
    assert status == 1
    where = storage.where(storage.raw_key(SHA))
    assert where.endswith(f"raw/{SHA[:2]}/{SHA}")
    assert f"DAMAGED {where}" in text
    assert f"expected sha256 {SHA}" in text and f"actual   sha256 {actual}" in text
    assert f"used by {m.code}" in text
    assert text.rstrip().endswith("0 ok, 1 damaged, 0 missing.")
    report, status = fixity("--json")
    report = json.loads(report)
    assert status == 1
    assert (report["checked"], report["ok"], report["damaged"], report["missing"]) == (1, 0, 1, 0)
    assert report["problems"] == [
        {
            "state": "damaged",
            "sha256": SHA,
            "actual_sha256": actual,
            "path": where,
            "measurements": [m.code],
        }
    ]

    # The pristine bytes again, under another name and for another measurement: the store is
    # rewritten from them and the failed measurement runs again on its own.
    with django_capture_on_commit_callbacks(execute=True):
        services.measurement_create(
            item=m.item,
            fields={"technique": "eis", "area_cm2": 1.0, "temperature_c": 25},
            uploads=[SimpleUploadedFile("again.mpt", PRISTINE)],
        )
    assert test_store.stored(SHA) == PRISTINE
    m.refresh_from_db()
    assert m.status in ("done", "done_with_warnings"), m.status_detail
    assert sigma(m) == original
    assert fixity()[1] == 0
    download = staff_client.get(f"/measurements/raw/{SHA}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PRISTINE


def test_a_missing_object_is_refused_and_reported(
    measured, api, django_capture_on_commit_callbacks
):
    m = measured
    test_store.remove(SHA)
    rerun(m, django_capture_on_commit_callbacks)
    assert m.status == "failed"
    assert m.status_detail == (
        f"raw file exampleDataBioLogic.mpt (sha256 {SHA[:12]}…) is missing from the store; "
        "upload the original file again to repair it"
    )
    assert api.get(f"/api/raw-files/{SHA}/").status_code == 409
    text, status = fixity()
    assert status == 1 and "actual   sha256 (no file)" in text
    assert text.rstrip().endswith("0 ok, 0 damaged, 1 missing.")


def test_an_intact_object_is_not_rewritten_by_a_reupload(store):
    assert storage.store_stream(MPT.open("rb"), limit=10**9) == (SHA, len(PRISTINE), True)
    before = storage.backend().get_modified_time(storage.raw_key(SHA))
    sha, size, written = storage.store_stream(MPT.open("rb"), limit=10**9)
    assert (sha, size, written) == (SHA, len(PRISTINE), False)
    assert storage.backend().get_modified_time(storage.raw_key(SHA)) == before


def test_the_column_mapping_preview_refuses_a_damaged_file(
    db, store, staff_client, django_capture_on_commit_callbacks
):
    # Real CH Instruments impedance text: read without its own parser it needs a mapping.
    chi = ROOT / "impedance.py" / "exampleDataCHInstruments.txt"
    pellet = factories.pellets(count=1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        m = services.measurement_create(
            item=pellet,
            fields={"technique": "eis", "parser": "generic_csv"},
            uploads=[SimpleUploadedFile("chi.txt", chi.read_bytes())],
        )
    m.refresh_from_db()
    assert "needs a column mapping" in m.status_detail
    sha = hashlib.sha256(chi.read_bytes()).hexdigest()
    assert "Confirm which column" in staff_client.get(m.get_absolute_url()).content.decode()

    test_store.replace(sha, test_store.stored(sha)[:-1])  # the last byte lost
    page = staff_client.get(m.get_absolute_url()).content.decode()
    assert f"raw file chi.txt (sha256 {sha[:12]}…) is damaged in the store" in page
    assert "Confirm which column" not in page  # no columns proposed from damaged bytes
    assert staff_client.post(f"/measurements/{m.code}/mapping/", {}).status_code == 400
