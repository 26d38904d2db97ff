"""Signatures (issue 12 §2): sign with the password, lock every write path, verify the hash and
say what changed, correct through a new version. On real values: the BioLogic example spectrum
on a 0.6 mm pellet of 1 cm² gives σ = 5.37e-04 S/cm."""

from __future__ import annotations

import json
import logging
from datetime import UTC

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from cells.services import cell_refresh_derived
from core import services as core_services
from core.models import AuditEvent, Item, Signature, Supersession
from core.signatures import RecordLocked, canonical_json, sign, verify
from core.users import deactivate_user
from measurements import services as measurement_services
from measurements.models import Measurement, MeasurementFile, Result
from synthesis.models import Pellet
from synthesis.services import pellet_set_create, pellets_measure
from tests import factories
from tests.conftest import token_client
from tests.instrument_files import instrument_file

MPT = instrument_file("impedance.py/exampleDataBioLogic.mpt")
PASSWORD = "pw-alice-123"  # the `staff` fixture's


@pytest.fixture
def measured_pellet(api, django_capture_on_commit_callbacks):
    """A pellet 0.6 mm thick with the BioLogic spectrum measured on 1 cm²."""
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6, "diameter_mm": 12.9, "mass_mg": 250}})
    with django_capture_on_commit_callbacks(execute=True):
        measurement = factories.eis_upload(api, pellet, area_cm2=1)
    measurement.refresh_from_db()  # processed when the upload committed
    sigma = Result.objects.get(measurement=measurement, kind="conductivity")
    assert f"{sigma.values['conductivity_s_cm']:.2e}" == "5.37e-04"
    return Pellet.objects.get(pk=pellet.pk), measurement


def _sign(api, code, meaning="approved", password=PASSWORD, **extra):
    return api.post(
        f"/api/items/{code}/sign/",
        {"password": password, "meaning": meaning, **extra},
        format="json",
    )


def test_signing_stores_the_hash_of_the_canonical_record_with_its_results(
    api, staff, measured_pellet
):
    pellet, measurement = measured_pellet
    response = _sign(api, pellet.code, comment="values checked against the notebook")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["locked"] is True and body["intact"] is True
    [signed] = body["signatures"]
    assert (signed["meaning"], signed["signer"]) == ("approved", "alice")

    signature = Signature.objects.get()
    assert signature.signer_username == "alice" and signature.signed_at.utcoffset().seconds == 0
    assert len(signature.sha256) == 64 and signature.sha256 == signed["sha256"]
    record = json.loads(signature.canonical)
    assert record["fields"]["thickness_mm"] == 0.6
    assert record["inputs"] == [
        {"amount": 250.0, "code": pellet.pellet_set.batch.code, "role": "powder", "unit": "mg"}
    ]
    [m] = record["measurements"]
    assert m["code"] == measurement.code and m["status"] == measurement.status
    assert m["files"][0]["sha256"] == measurement.files.get().raw_file.sha256
    sigma = next(r for r in m["results"] if r["kind"] == "conductivity")
    assert f"{sigma['values']['conductivity_s_cm']:.2e}" == "5.37e-04"
    # The canonical form is stable: built again, the same bytes.
    assert canonical_json(pellet) == signature.canonical
    event = AuditEvent.objects.get(action="sign")
    assert event.username == "alice" and event.after["sha256"] == signature.sha256


def test_signing_asks_for_the_password_every_time_and_audits_a_wrong_one(api, measured_pellet):
    pellet, _ = measured_pellet
    wrong = _sign(api, pellet.code, password="not-it")
    assert wrong.status_code == 400
    assert wrong.json() == {"password": ["Wrong password: re-enter your login password to sign."]}
    missing = api.post(f"/api/items/{pellet.code}/sign/", {"meaning": "approved"}, format="json")
    assert missing.status_code == 400 and "password" in missing.json()
    assert not Signature.objects.exists()
    refused = AuditEvent.objects.get(action="refused")
    assert refused.after == {"item": pellet.code, "reason": "wrong password"}


def test_sign_refuses_unknown_meanings_and_fields_and_read_only_accounts(
    api, viewer, measured_pellet
):
    pellet, _ = measured_pellet
    bad = _sign(api, pellet.code, meaning="blessed")
    assert bad.status_code == 400 and "meaning" in bad.json()
    extra = _sign(api, pellet.code, sha256="0" * 64)
    assert extra.status_code == 400 and "sha256" in extra.json()
    as_viewer = _sign(token_client(viewer), pellet.code, password="pw-victor-123")
    assert as_viewer.status_code == 403
    assert not Signature.objects.exists()


def test_a_record_still_processing_cannot_be_signed(api, staff):
    pellet = factories.pellets(count=1)[0]
    measurement = measurement_services.measurement_create(
        user=staff, item=pellet, fields={"technique": "eis"}
    )  # queued: the job is sent on commit, which never comes in this test
    response = _sign(api, pellet.code)
    assert response.status_code == 400
    assert response.json() == {
        "item": [f"{measurement.code} of {pellet.code} is queued; sign when it has finished."]
    }


def test_every_write_path_of_a_signed_pellet_is_refused_naming_the_signature(
    api, staff, staff_client, measured_pellet, django_capture_on_commit_callbacks, caplog
):
    pellet, measurement = measured_pellet
    assert _sign(api, pellet.code).status_code == 201
    signature = Signature.objects.get()
    message = f"{signature.describe()}; it is locked. Make a new version to correct it."
    assert message.startswith(f"{pellet.code} was approved by alice on ")
    results_before = list(Result.objects.order_by("pk").values_list("pk", "values"))
    versions = (pellet.version, measurement.version)

    # API: the record, its measurement, a new measurement on it.
    patch = api.patch(f"/api/pellets/{pellet.code}/", {"thickness_mm": 0.7}, format="json")
    assert patch.status_code == 409 and patch.json()["detail"] == message
    assert patch.json()["signature"]["signer"] == "alice"
    assert api.delete(f"/api/pellets/{pellet.code}/").status_code == 409
    m_url = f"/api/measurements/{measurement.code}/"
    assert api.patch(m_url, {"notes": "x"}, format="json").status_code == 409
    assert api.delete(m_url).status_code == 409
    upload = api.post(
        "/api/measurements/",
        {
            "item": pellet.code,
            "technique": "eis",
            "files": [SimpleUploadedFile("again.mpt", MPT.read_bytes())],
        },
        format="multipart",
    )
    assert upload.status_code == 409 and upload.json()["detail"] == message
    attach = api.post(
        f"{m_url}files/",
        {"files": [SimpleUploadedFile("b.mpt", MPT.read_bytes())]},
        format="multipart",
    )
    assert attach.status_code == 409 and attach.json()["detail"] == message
    assert api.post(f"{m_url}reprocess/").status_code == 409

    # Web: the measurement's page names the signature and offers no write controls...
    page = staff_client.get(f"/measurements/{measurement.code}/").content.decode()
    assert 'data-testid="locked"' in page and signature.describe() in page
    assert f"/measurements/{measurement.code}/rerun/" not in page
    # ...and posting anyway is refused: the edit form, re-run, detach a file, add a file.
    edit = staff_client.get(f"/items/{pellet.code}/edit/")
    assert edit.status_code == 409 and message in edit.content.decode()
    assert staff_client.post(f"/measurements/{measurement.code}/rerun/").status_code == 409
    link = measurement.files.get()
    staff_client.post(f"/measurements/{measurement.code}/files/{link.pk}/remove/")
    assert MeasurementFile.objects.filter(pk=link.pk).exists()
    added = staff_client.post(
        f"/measurements/{measurement.code}/files/",
        {"files": SimpleUploadedFile("b.mpt", MPT.read_bytes())},
    )
    assert added.status_code == 409

    # Services and the model guard (a shell, a script): refused alike.
    with pytest.raises(RecordLocked), transaction.atomic():
        pellets_measure({pellet: {"thickness_mm": 0.8}})
    with pytest.raises(RecordLocked), transaction.atomic():
        Pellet.objects.get(pk=pellet.pk).save()
    with pytest.raises(RecordLocked), transaction.atomic():
        Result.objects.filter(measurement=measurement).first().delete()
    # Process steps and lineage edits (the admin's lineage form goes through `link`).
    with pytest.raises(RecordLocked), transaction.atomic():
        core_services.set_steps(
            pellet, [{"kind": "sintering", "temperature_c": 950, "duration_min": 60}]
        )
    with pytest.raises(RecordLocked), transaction.atomic():
        core_services.link(factories.lagp_batch(), pellet, role="powder")

    # Workers: a re-run of the old job, a recompute after a geometry change, the series:
    # they end without writing and log why.
    caplog.set_level(logging.WARNING, logger="measurements.services")
    with django_capture_on_commit_callbacks(execute=True):
        assert measurement_services.process_measurement(measurement.pk, measurement.run) == (
            "locked"
        )
        assert measurement_services.reprocess_item_measurements(pellet.pk) == 0
        assert measurement_services.update_temperature_series(pellet.pk) in ("locked", "stale")

    assert f"{measurement.code} not processed: {pellet.code} is signed and locked" in caplog.text
    assert f"{measurement.code} not recomputed: {message}" in caplog.text
    pellet.refresh_from_db()
    measurement.refresh_from_db()
    assert (pellet.version, measurement.version) == versions
    assert pellet.thickness_mm == 0.6 and measurement.status == "done_with_warnings"
    assert list(Result.objects.order_by("pk").values_list("pk", "values")) == results_before
    assert Measurement.objects.filter(item=pellet).count() == 1
    assert verify(signature).intact
    # Each refused request is in the audit log (the services' own refusals raise to the caller).
    assert AuditEvent.objects.filter(action="refused").count() >= 8


def test_the_admin_shows_a_signed_record_read_only_without_delete(
    api, staff, client, measured_pellet
):
    pellet, measurement = measured_pellet
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    assert _sign(api, pellet.code).status_code == 201
    page = client.get(f"/admin/synthesis/pellet/{pellet.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="thickness_mm"' not in html and "Delete" not in html.split("<footer")[0]
    posted = client.post(
        f"/admin/synthesis/pellet/{pellet.pk}/change/", {"thickness_mm": "0.9", "pellet_set": 1}
    )
    assert posted.status_code == 403
    result = Result.objects.filter(measurement=measurement).first()
    assert (
        client.post(f"/admin/measurements/result/{result.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    pellet.refresh_from_db()
    assert pellet.thickness_mm == 0.6 and Result.objects.filter(pk=result.pk).exists()


def test_verification_names_the_value_changed_directly_in_the_database(
    api, staff_client, measured_pellet
):
    pellet, measurement = measured_pellet
    assert _sign(api, pellet.code).status_code == 201
    assert api.get(f"/api/items/{pellet.code}/verify/").json()["intact"] is True

    # Behind the application's back: a queryset update, no signals, no guard.
    Pellet.objects.filter(pk=pellet.pk).update(thickness_mm=0.61)
    result = Result.objects.get(measurement=measurement, kind="conductivity")
    sigma = result.values["conductivity_s_cm"]
    Result.objects.filter(pk=result.pk).update(
        values={**result.values, "conductivity_s_cm": sigma * 2}
    )

    body = api.get(f"/api/items/{pellet.code}/verify/").json()
    assert body["intact"] is False
    [signed] = body["signatures"]
    assert signed["sha256_now"] != signed["sha256"]
    changes = {c["path"]: (c["old"], c["new"]) for c in signed["changes"]}
    assert changes["fields.thickness_mm"] == (0.6, 0.61)
    path = f"measurements[{measurement.code}].results[1].values.conductivity_s_cm"
    kinds = [
        r["kind"]
        for r in json.loads(Signature.objects.get().canonical)["measurements"][0]["results"]
    ]
    path = f"measurements[{measurement.code}].results[{kinds.index('conductivity')}]"
    assert changes[f"{path}.values.conductivity_s_cm"] == (sigma, sigma * 2)
    failed = AuditEvent.objects.filter(action="tampered").first()
    assert failed is not None and ["fields.thickness_mm", 0.6, 0.61] in failed.after["changes"]

    page = staff_client.get(f"/items/{pellet.code}/").content.decode()
    assert 'data-testid="changed"' in page and "fields.thickness_mm" in page


def test_a_batch_is_signed_with_its_pellets_and_locks_them(api, staff):
    batch = factories.lagp_batch()
    pellets = factories.pellets(batch=batch, count=2)
    assert _sign(api, batch.code, meaning="reviewed").status_code == 201
    record = json.loads(Signature.objects.get().canonical)
    assert [p["code"] for p in record["pellets"]] == [p.code for p in pellets]
    assert [p["role"] for p in record["precursors"]] == ["li", "al", "ge", "p"]

    patch = api.patch(f"/api/pellets/{pellets[0].code}/", {"thickness_mm": 0.5}, format="json")
    assert patch.status_code == 409
    assert patch.json()["detail"].startswith(f"{batch.code} was reviewed by alice on ")
    assert f"(its signature covers {pellets[0].code})" in patch.json()["detail"]
    # No new pellets from a signed batch: its record lists its pellets.
    with pytest.raises(RecordLocked):
        pellet_set_create(batch=batch, count=1, fields={})
    assert Pellet.objects.filter(pellet_set__batch=batch).count() == 2
    # The pellets still go into cells: using a signed record is not changing it.
    cell = factories.symmetric_cell(pellet=pellets[1])
    assert cell.code.startswith("CELL-")


def test_a_signed_cell_keeps_its_derived_values_when_its_disks_change(api, staff):
    cell = factories.full_cell()
    assert _sign(api, cell.code).status_code == 201
    Item.objects.filter(pk=cell.pk).update(summary="x")  # not in the canonical record
    assert cell_refresh_derived(cell.pk) is False
    assert api.get(f"/api/items/{cell.code}/verify/").json()["intact"] is True
    patch = api.patch(f"/api/cells/{cell.code}/", {"notes": "late note"}, format="json")
    assert patch.status_code == 409


def test_a_correction_is_a_new_version_linked_both_ways(api, staff, staff_client):
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6}})
    batch = Pellet.objects.get(pk=pellet.pk).pellet_set.batch
    assert _sign(api, batch.code).status_code == 201
    page = staff_client.get(f"/items/{batch.code}/").content.decode()
    assert 'data-testid="new-version"' in page and 'data-testid="intact"' in page

    # Web: the copy form with ?supersedes= saves a new batch linked to the locked one.
    url = f"/synthesis/batches/new/?copy={batch.code}&supersedes={batch.code}"
    form = staff_client.get(url)
    assert form.status_code == 200 and 'data-testid="new-version-of"' in form.content.decode()

    # API: a record made as a copy, then linked.
    copy = factories.lagp_batch()
    linked = api.post(
        f"/api/items/{copy.code}/supersede/", {"supersedes": batch.code}, format="json"
    )
    assert linked.status_code == 201 and linked.json()["supersedes"] == batch.code
    assert Supersession.objects.get().old_id == batch.pk
    assert api.get(f"/api/items/{batch.code}/verify/").json()["superseded_by"] == [copy.code]
    old_page = staff_client.get(f"/items/{batch.code}/").content.decode()
    assert f'Superseded by <a href="/items/{copy.code}/">{copy.code}</a>' in old_page
    new_page = staff_client.get(f"/items/{copy.code}/").content.decode()
    assert 'data-testid="supersedes"' in new_page
    again = api.post(
        f"/api/items/{copy.code}/supersede/", {"supersedes": batch.code}, format="json"
    )
    assert again.status_code == 400 and "supersedes" in again.json()
    # The locked batch was not changed by being superseded.
    assert api.get(f"/api/items/{batch.code}/verify/").json()["intact"] is True


def test_signing_through_the_web_form(staff_client, staff):
    pellet = factories.pellets(count=1)[0]
    url = f"/items/{pellet.code}/sign/"
    assert staff_client.get(url).status_code == 200
    wrong = staff_client.post(url, {"password": "nope", "meaning": "approved"})
    assert wrong.status_code == 400 and "Wrong password" in wrong.content.decode()
    done = staff_client.post(url, {"password": PASSWORD, "meaning": "reviewed"})
    assert done.status_code == 302
    assert Signature.objects.get().meaning == "reviewed"


def test_signatures_are_never_changed_or_deleted(api, staff):
    pellet = factories.pellets(count=1)[0]
    signature = sign(pellet, user=staff, password=PASSWORD, meaning="approved")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        signature.save()
    with pytest.raises(ValidationError):
        signature.delete()
    # Nor is its signer's account deleted (PROTECT): it is deactivated (core.users).
    with pytest.raises(ProtectedError):
        get_user_model().objects.filter(pk=staff.pk).delete()
    signature.refresh_from_db()
    assert signature.signer == staff and signature.signer_username == "alice"


def test_canonical_json_is_stable_across_number_and_time_forms():
    import datetime as dt

    from core.signatures import canonical_dumps, diff

    when = dt.datetime(2026, 12, 1, 8, 2, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    text = canonical_dumps(
        {"b": [1, 2.5e-4, -0.0], "a": {"t": when, "nan": float("nan"), "d": dt.date(2026, 1, 2)}}
    )
    assert text == (
        '{"a":{"d":"2026-01-02","nan":"nan","t":"2026-12-01T07:02:00+00:00"},"b":[1,0.00025,0.0]}'
    )
    old = {"measurements": [{"code": "MEAS-0001", "x": 1}, {"code": "MEAS-0002", "x": 2}]}
    new = {"measurements": [{"code": "MEAS-0002", "x": 3}]}
    assert diff(old, new) == [
        ("measurements[MEAS-0001]", {"code": "MEAS-0001", "x": 1}, "(absent)"),
        ("measurements[MEAS-0002].x", 2, 3),
    ]


def test_who_may_sign_managers_and_with_the_setting_the_author(viewer, viewer_client, settings):
    from core.permissions import can_sign
    from tests.factories import join

    pellet = factories.pellets(count=1)[0]
    assert viewer_client.get(f"/items/{pellet.code}/sign/").status_code == 403
    Item.objects.filter(pk=pellet.pk).update(created_by=viewer)
    pellet.refresh_from_db()
    settings.LIMS_AUTHOR_MAY_SIGN = True
    assert can_sign(viewer, pellet) is False  # an author who only reads the project: no
    join(viewer, "member")
    settings.LIMS_AUTHOR_MAY_SIGN = False
    assert can_sign(viewer, pellet) is False  # a member signs only with the setting
    settings.LIMS_AUTHOR_MAY_SIGN = True
    assert can_sign(viewer, pellet) is True
    done = viewer_client.post(
        f"/items/{pellet.code}/sign/", {"password": "pw-victor-123", "meaning": "authored"}
    )
    assert done.status_code == 302
    assert Signature.objects.get().signer_username == "victor"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger is PostgreSQL's (no-op on SQLite)"
)
def test_postgresql_refuses_a_raw_change_of_a_signature(staff):
    pellet = factories.pellets(count=1)[0]
    signature = sign(pellet, user=staff, password=PASSWORD, meaning="approved")
    for sql in (
        "UPDATE lims_signature SET sha256 = 'x' WHERE id = %s",
        "DELETE FROM lims_signature_covers WHERE signature_id = %s",
        "DELETE FROM lims_signature WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="signatures are never changed"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [signature.pk])
    # The signer's account cannot be deleted (PROTECT, core.users), only deactivated.
    with pytest.raises(ProtectedError):
        get_user_model().objects.filter(pk=staff.pk).delete()
    deactivate_user(staff, by=None)
    signature.refresh_from_db()
    assert signature.signer == staff and signature.signer_username == "alice"
    assert signature.covers.count() == 1 and verify(signature, audit=False).intact


def test_a_cell_corrected_as_a_new_version_holds_the_same_pieces(api, staff, staff_client):
    """A cell's new version is the same physical cell with its record corrected: it may hold
    the locked version's pellet and disk (no other cell may), through the web form and the
    API, and editing the new version later keeps them."""
    cell = factories.full_cell(notes="electrolyte amount typed wrong")
    pellet = cell.layers.get(side="electrolyte").item
    assert _sign(api, cell.code).status_code == 201
    stack = [
        {"side": layer.side, "item": layer.item.code, "amount_ul": layer.amount_ul}
        for layer in cell.layers.order_by("position")
    ]
    body = {"active_area_cm2": 1.13, "layers": stack, "notes": "corrected"}

    unrelated = api.post("/api/cells/", body, format="json")
    assert unrelated.status_code == 400
    assert f"{pellet.code} is already in {cell.code}; a piece goes into one cell." in str(
        unrelated.json()["layers"]
    )

    made = api.post("/api/cells/", {**body, "supersedes": cell.code}, format="json")
    assert made.status_code == 201, made.json()
    new = made.json()["code"]
    assert [layer["item"] for layer in made.json()["layers"]] == [s["item"] for s in stack]
    assert api.get(f"/api/items/{cell.code}/verify/").json() == {
        **api.get(f"/api/items/{cell.code}/verify/").json(),
        "intact": True,
        "superseded_by": [new],
    }
    assert api.get(f"/api/items/{new}/verify/").json()["supersedes"] == cell.code
    # Editing the new version later keeps the carried pieces (its link says whose they are).
    edited = api.patch(f"/api/cells/{new}/", {"layers": stack}, format="json")
    assert edited.status_code == 200, edited.json()
    # Still no third cell takes the pellet, and `supersedes` is only for a new record.
    assert api.post("/api/cells/", body, format="json").status_code == 400
    moved = api.patch(f"/api/cells/{new}/", {"supersedes": cell.code}, format="json")
    assert moved.status_code == 400 and "supersedes" in moved.json()

    # One line of versions: the original, once superseded, is not superseded again.
    twice = api.post("/api/cells/", {**body, "supersedes": cell.code}, format="json")
    assert twice.status_code == 400
    assert twice.json() == {
        "supersedes": [
            f"{cell.code} already has a new version, {new}: correct that one (sign it first)."
        ]
    }
    # Web: the signed new version's new-version link opens its copy; saved as it is, it too
    # holds the same pieces.
    assert _sign(api, new).status_code == 201
    assert (
        'data-testid="new-version"' not in staff_client.get(f"/items/{cell.code}/").content.decode()
    )
    again = new_version_by_form(staff_client, new)
    assert Supersession.objects.get(new=again).old.code == new
    assert set(again.layers.values_list("item__code", flat=True)) >= {pellet.code}


def new_version_by_form(client, code):
    """Follow the item page's *new version* link and save the prefilled form as it is."""
    import re

    page = client.get(f"/items/{code}/").content.decode()
    link = re.search(r'data-testid="new-version" href="([^"]+)"', page)
    url = link.group(1).replace("&amp;", "&") if link else None
    assert url is not None, "no new-version link on a locked record's page"
    form = client.get(url).content.decode()
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form):
        data[name] = value
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = chosen.group(1) if chosen else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data[name] = body.strip()
    saved = client.post(url, data)
    assert saved.status_code == 302, saved.content.decode()[-2000:]
    return Item.objects.get(code=saved["Location"].strip("/").split("/")[-1]).specific


def test_a_pellet_of_a_signed_batch_is_corrected_by_a_new_version_in_its_set(api, staff_client):
    """A batch is signed with its pellets; one pellet's thickness was typed wrong. Its new
    version is one new pellet of the same set, made from its page: the corrected value, the
    rest copied, linked both ways; the batch's signature stays intact and the old pellet
    locked (the walkthrough found a 500 here, then a refusal)."""
    first, second = factories.pellets(count=2)
    pellets_measure(
        {
            first: {"thickness_mm": 0.6, "diameter_mm": 12.9, "mass_mg": 250},
            second: {"thickness_mm": 0.7, "diameter_mm": 12.8, "mass_mg": 260},
        }
    )
    batch = first.pellet_set.batch
    assert _sign(api, batch.code).status_code == 201

    page = staff_client.get(f"/items/{first.code}/").content.decode()
    assert f'href="/synthesis/pieces/{first.code}/new-version/">new version</a>' in page
    form = staff_client.get(f"/synthesis/pieces/{first.code}/new-version/").content.decode()
    assert 'data-testid="new-version-of"' in form and 'value="0.6"' in form
    saved = staff_client.post(
        f"/synthesis/pieces/{first.code}/new-version/",
        {"thickness_mm": "0.61", "diameter_mm": "12.9", "mass_mg": "250", "notes": "re-measured"},
    )
    assert saved.status_code == 302, saved.content.decode()[-1500:]
    new = Pellet.objects.get(code=saved["Location"].strip("/").split("/")[-1])
    assert (new.pellet_set_id, new.project_id) == (first.pellet_set_id, first.project_id)
    assert (new.thickness_mm, new.diameter_mm, new.mass_mg) == (0.61, 12.9, 250)
    assert [(e.parent.code, e.amount) for e in new.parent_edges.all()] == [(batch.code, 250)]
    assert Supersession.objects.get(new=new).old_id == first.pk

    # The batch was signed with two pellets; the third, made since, is not part of it.
    batch_report = api.get(f"/api/items/{batch.code}/verify/").json()
    assert batch_report["intact"] is True, batch_report
    assert api.get(f"/api/items/{first.code}/verify/").json()["superseded_by"] == [new.code]
    with pytest.raises(RecordLocked):
        pellets_measure({Pellet.objects.get(pk=first.pk): {"thickness_mm": 0.62}})
    # The new version is not signed: it can be measured again, and signed on its own.
    pellets_measure({new: {"mass_mg": 251}})
    assert _sign(api, new.code).status_code == 201

    # One line of versions: the old pellet, once superseded, is not superseded again.
    twice = staff_client.post(
        f"/synthesis/pieces/{first.code}/new-version/",
        {"thickness_mm": "0.63", "diameter_mm": "12.9", "mass_mg": "250"},
    )
    assert twice.status_code == 400
    assert f"{first.code} already has a new version, {new.code}" in twice.content.decode()
    # The set form, given a piece to supersede, points to the piece's own page.
    typed = staff_client.get(
        f"/synthesis/pellet-sets/new/?copy={second.code}&supersedes={second.code}", follow=True
    )
    assert "Its new version is made from its own page" in typed.content.decode()
    assert Supersession.objects.count() == 1


def test_a_corrected_pellet_version_measured_again_gives_the_corrected_conductivity(
    api, measured_pellet, django_capture_on_commit_callbacks
):
    """The end of a correction: the new version of a signed pellet (0.6 -> 0.61 mm), measured
    again from the same stored BioLogic spectrum, gives σ scaled by the thickness
    (σ = L / (R·A))."""
    pellet, measurement = measured_pellet
    sigma_old = Result.objects.get(measurement=measurement, kind="conductivity")
    assert _sign(api, pellet.code).status_code == 201
    made = api.post(
        f"/api/pellets/{pellet.code}/new-version/", {"thickness_mm": 0.61}, format="json"
    )
    assert made.status_code == 201, made.json()
    body = made.json()
    assert (body["thickness_mm"], body["diameter_mm"], body["mass_mg"]) == (0.61, 12.9, 250)
    assert body["batch"] == pellet.pellet_set.batch.code
    new = Pellet.objects.get(code=body["code"])
    # Measured again from the signed pellet's raw file: the same spectrum, the settings as
    # typed (area 1 cm²), the corrected thickness.
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post("/api/measurements/measure-again/", {"item": new.code}, format="json")
    assert again.status_code == 201, again.json()
    (copied,) = again.json()
    assert (copied["carried_from"], copied["area_cm2"]) == (measurement.code, 1.0)
    assert copied["files"][0]["sha256"] == measurement.files.get().raw_file.sha256
    sigma_new = Result.objects.get(measurement__code=copied["code"], kind="conductivity")
    ratio = sigma_new.values["conductivity_s_cm"] / sigma_old.values["conductivity_s_cm"]
    assert ratio == pytest.approx(0.61 / 0.6, rel=1e-9)
    # Once only; and only for a new version.
    twice = api.post("/api/measurements/measure-again/", {"item": new.code}, format="json")
    assert twice.status_code == 400
    assert twice.json() == {"item": [f"{new.code} already has every measurement of {pellet.code}."]}
    other = factories.pellets(count=1)[0]
    refused = api.post("/api/measurements/measure-again/", {"item": other.code}, format="json")
    assert refused.status_code == 400 and "is not a new version" in str(refused.json())
    # The signed pellet keeps the σ it was signed with.
    assert api.get(f"/api/items/{pellet.code}/verify/").json()["intact"] is True


def test_disk_and_membrane_piece_new_versions_through_the_api(api, viewer_api):
    """A disk's loading and a membrane piece's thickness, corrected by new versions through
    the API; only the piece's own values may be sent, unknown ones are refused by name."""
    disk = factories.cathode_disks(count=1)[0]
    assert _sign(api, disk.code).status_code == 201
    url = f"/api/electrode-disks/{disk.code}/new-version/"
    for body, field in (
        ({"coating": disk.coating.code}, "coating"),
        ({"loading": 2.8}, "loading"),
        ({"active_loading_mg_cm2": -1}, "active_loading_mg_cm2"),
    ):
        refused = api.post(url, body, format="json")
        assert refused.status_code == 400 and field in refused.json(), refused.json()
    assert viewer_api.post(url, {"active_loading_mg_cm2": 2.8}, format="json").status_code == 403
    made = api.post(url, {"active_loading_mg_cm2": 2.8}, format="json")
    assert made.status_code == 201, made.json()
    # 2.8 mg/cm² on a 12 mm disk (1.1310 cm²): 3.1667 mg of NCM811.
    assert made.json()["active_mass_mg"] == pytest.approx(2.8 * 3.14159265 * 0.6**2, rel=1e-6)
    assert made.json()["coating"] == disk.coating.code and made.json()["diameter_mm"] == 12.0
    assert Supersession.objects.get(new__code=made.json()["code"]).old.code == disk.code

    piece = factories.membrane_pieces(count=1)[0]
    assert _sign(api, piece.code).status_code == 201
    made = api.post(
        f"/api/membrane-pieces/{piece.code}/new-version/",
        {"measured_thickness_um": 22.5},
        format="json",
    )
    assert made.status_code == 201, made.json()
    assert (made.json()["thickness_um"], made.json()["membrane"]) == (22.5, piece.membrane.code)
    # Pellets are still made as a set: POST on the pellet list says where.
    listed = api.post("/api/pellets/", {"thickness_mm": 0.6}, format="json")
    assert listed.status_code == 405 and "/api/pellet-sets/" in listed.json()["detail"]


def test_an_input_changed_after_signing_is_shown_on_the_signed_record(api, staff_client):
    """A signed cell keeps the active mass it was signed with; when its disk's loading is
    changed afterwards, the cell's page and verification say so instead of staying silent."""
    cell = factories.full_cell()
    disk = cell.layers.get(side="positive").item
    mass = Item.objects.get(pk=cell.pk).specific.active_mass_mg
    assert _sign(api, cell.code).status_code == 201
    assert api.get(f"/api/items/{cell.code}/verify/").json()["inputs_changed"] == []

    changed = api.patch(
        f"/api/electrode-disks/{disk.code}/", {"active_loading_mg_cm2": 2.8}, format="json"
    )
    assert changed.status_code == 200, changed.json()
    report = api.get(f"/api/items/{cell.code}/verify/").json()
    assert report["intact"] is True  # the cell itself is as signed
    assert [c["item"] for c in report["inputs_changed"]] == [disk.code]
    assert Item.objects.get(pk=cell.pk).specific.active_mass_mg == mass
    page = staff_client.get(f"/items/{cell.code}/").content.decode()
    assert 'data-testid="inputs-changed"' in page
    assert f">{disk.code}</a>" in page.split('data-testid="inputs-changed"')[1]
    # A locked record offers no write that would be refused: no new measurement on it.
    assert f"?item={disk.code}" in staff_client.get(f"/items/{disk.code}/").content.decode()
    assert f"?item={cell.code}" not in page


def test_a_signed_lots_chemical_is_locked_with_it(api, client, staff):
    """A reagent lot's signed record holds its chemical's catalogue fields (name, formula,
    molar mass): once the lot is signed the catalogue entry refuses changes on every path,
    naming the signature; a chemical whose lots are unsigned stays editable."""
    from synthesis.models import Chemical

    lot = factories.reagent_lot("LiFSI", "LiFSI")
    other = factories.reagent_lot("PEO", "PEO")
    assert _sign(api, lot.code).status_code == 201
    chemical = Chemical.objects.get(pk=lot.chemical_id)

    refused = api.patch(
        f"/api/chemicals/{chemical.pk}/", {"cas_number": "171611-11-3"}, format="json"
    )
    assert refused.status_code == 409, refused.json()
    assert refused.json()["detail"].startswith(f"{lot.code} was approved by alice on ")
    assert f"its signature covers chemical {chemical}" in refused.json()["detail"]
    with pytest.raises(RecordLocked):
        chemical.molar_mass_g_mol = 187.07
        chemical.save()
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    url = f"/admin/synthesis/chemical/{chemical.pk}/change/"
    assert client.post(url, {"name": "LiFSI", "category": "salt"}).status_code == 403
    assert api.get(f"/api/items/{lot.code}/verify/").json()["intact"] is True

    edited = api.patch(
        f"/api/chemicals/{other.chemical_id}/", {"cas_number": "25322-68-3"}, format="json"
    )
    assert edited.status_code == 200, edited.json()


def test_signing_hashes_the_record_as_saved_not_a_stale_copy(staff):
    """A caller holding an object loaded before a change (here: the pellet before its
    thickness was recorded) still signs what is saved: verification is intact."""
    stale = factories.pellets(count=1)[0]
    pellets_measure({Pellet.objects.get(pk=stale.pk): {"thickness_mm": 0.6}})
    assert stale.thickness_mm is None
    signature = sign(stale, user=staff, password=PASSWORD, meaning="approved")
    assert json.loads(signature.canonical)["fields"]["thickness_mm"] == 0.6
    assert verify(signature).intact


def test_the_new_versions_page_offers_to_measure_again(
    api, staff_client, measured_pellet, django_capture_on_commit_callbacks
):
    pellet, measurement = measured_pellet
    assert _sign(api, pellet.code).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        saved = staff_client.post(
            f"/synthesis/pieces/{pellet.code}/new-version/",
            {"thickness_mm": "0.61", "diameter_mm": "12.9", "mass_mg": "250"},
        )
    new = Pellet.objects.get(code=saved["Location"].strip("/").split("/")[-1])
    page = staff_client.get(f"/items/{new.code}/").content.decode()
    offer = page.split('data-testid="measure-again"')[1].split("</form>")[0]
    assert f"{pellet.code}</a>, which has 1 measurement not taken here" in offer
    with django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post(f"/measurements/measure-again/{new.code}/", follow=True)
    copy = Measurement.objects.get(item=new)
    assert f"1 measurement ({copy.code}) queued with the raw files of {pellet.code}" in (
        done.content.decode()
    )
    assert copy.carried_from == measurement
    assert copy.status == Measurement.objects.get(pk=measurement.pk).status  # as computed there
    assert 'data-testid="measure-again"' not in done.content.decode()  # nothing left to take


def test_a_copy_leaves_the_notes_behind_a_new_version_keeps_them(staff_client):
    """Notes are about one sample: a copy (another sample made the same way) starts without
    them; a new version (the same record corrected) keeps them."""
    cell = factories.full_cell(notes="electrolyte leaked at the edge")
    copy = staff_client.get(f"/cells/new/?copy={cell.code}").content.decode()
    version = staff_client.get(
        f"/cells/new/?copy={cell.code}&supersedes={cell.code}"
    ).content.decode()
    assert "electrolyte leaked at the edge" not in copy
    assert "electrolyte leaked at the edge" in version


def test_the_409_page_lists_every_signature_and_the_corrected_version(api, staff_client):
    """A pellet signed with its batch (reviewed) and on its own (approved) is locked by both:
    the page refusing an edit names each (meaning, signer, UTC time), not only the first, and
    once corrected it points to the new version instead of asking for another. Its batch's
    page no longer offers a pellet set its signature would refuse."""
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6, "diameter_mm": 12.9, "mass_mg": 250}})
    batch = pellet.pellet_set.batch
    assert _sign(api, batch.code, meaning="reviewed").status_code == 201
    assert _sign(api, pellet.code, meaning="approved").status_code == 201
    by_batch, own = Signature.objects.order_by("signed_at", "id")

    edit = staff_client.get(f"/items/{pellet.code}/edit/")
    page = edit.content.decode()
    assert edit.status_code == 409
    listed = page.split('data-testid="locking-signatures"')[1].split("</ul>")[0]
    for signature, meaning in ((by_batch, "Reviewed"), (own, "Approved")):
        when = signature.signed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        assert f"<strong>{meaning}</strong> by alice on {when} UTC" in listed
    assert f"(signed with {batch.code})" in listed
    assert 'data-testid="corrected-version"' not in page

    new = new_version_by_form(staff_client, pellet.code)
    page = staff_client.get(f"/items/{pellet.code}/edit/").content.decode()
    assert f'It already has a corrected version: <a href="/items/{new.code}/">' in page

    batch_page = staff_client.get(f"/items/{batch.code}/").content.decode()
    assert 'data-testid="no-new-pellets"' in batch_page
    assert f"/synthesis/pellet-sets/new/?batch={batch.code}" not in batch_page


def test_one_signature_is_named_once_on_the_409_page(api, staff_client):
    pellet = factories.pellets(count=1)[0]
    assert _sign(api, pellet.code).status_code == 201
    page = staff_client.get(f"/items/{pellet.code}/edit/").content.decode()
    assert Signature.objects.get().describe() in page
    assert 'data-testid="locking-signatures"' not in page


def test_the_admins_refusal_does_not_speak_of_project_roles(api, client, staff):
    """The admin's 403 (a signed lot's chemical cannot be deleted) is not about projects: a
    manager is not told to ask a manager to make them a member."""
    from synthesis.models import Chemical

    lot = factories.reagent_lot("LiFSI", "LiFSI")
    assert _sign(api, lot.code).status_code == 201
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    chemical = Chemical.objects.get(pk=lot.chemical_id)
    refused = client.get(f"/admin/synthesis/chemical/{chemical.pk}/delete/")
    page = refused.content.decode()
    assert refused.status_code == 403
    assert "a signed record, and what its signature holds, is read-only" in page
    assert "make you a member" not in page


def test_a_coating_is_signed_with_its_disks_and_an_older_signature_without_them_holds(api, staff):
    """As a batch with its pellets, a coating is signed with the disks punched from it (and a
    membrane with its pieces): they are locked with it. Disks punched later use the coating
    and are not part of its signature. A signature made before coatings covered their disks
    (its JSON has no `disks`) still verifies intact."""
    from django.utils import timezone

    from core.signatures import canonical_dumps, canonical_record, sha256_of
    from synthesis.services import electrode_disks_create

    first, second = factories.cathode_disks(count=2)
    coating = first.coating
    assert _sign(api, coating.code).status_code == 201
    locked = api.patch(
        f"/api/electrode-disks/{first.code}/", {"active_loading_mg_cm2": 2.9}, format="json"
    )
    assert locked.status_code == 409
    assert f"its signature covers {first.code}" in locked.json()["detail"]
    later = electrode_disks_create(
        coating=coating, count=1, fields={"diameter_mm": 12.0, "active_loading_mg_cm2": 2.7}
    )[0]
    assert api.get(f"/api/items/{coating.code}/verify/").json()["intact"] is True
    assert (
        api.patch(
            f"/api/electrode-disks/{later.code}/", {"active_loading_mg_cm2": 2.8}, format="json"
        ).status_code
        == 200
    )

    membrane_pieces = factories.membrane_pieces(count=2)
    membrane = membrane_pieces[0].membrane
    assert _sign(api, membrane.code).status_code == 201
    signed = json.loads(Signature.objects.get(item=membrane).canonical)
    assert [p["code"] for p in signed["pieces"]] == [p.code for p in membrane_pieces]
    cut = api.patch(
        f"/api/membrane-pieces/{membrane_pieces[1].code}/",
        {"measured_thickness_um": 21},
        format="json",
    )
    assert cut.status_code == 409

    # An older signature of another coating, made when coatings covered no disks.
    old_disk = factories.cathode_disks(count=1)[0]
    record = canonical_record(old_disk.coating)
    record.pop("disks")
    text = canonical_dumps(record)
    legacy = Signature.objects.create(
        item=old_disk.coating,
        signer=staff,
        signer_username=staff.username,
        signed_at=timezone.now(),
        meaning="approved",
        sha256=sha256_of(text),
        canonical=text,
    )
    legacy.covers.set([old_disk.coating])
    assert verify(legacy).intact


def test_measuring_again_takes_the_corrected_value_unless_one_was_typed_on_purpose(
    api, django_capture_on_commit_callbacks
):
    """The demo's measurements carry the pellet's thickness typed on them (600 µm, as the
    pellet records it). Measured again on the corrected pellet (0.66 mm), that value was the
    record's and gives way: σ scales by 0.66/0.6. An area typed differently from the pellet's
    (1 cm² for a 12.9 mm pellet) was typed on purpose: kept, and the copy's notes say so."""
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6, "diameter_mm": 12.9, "mass_mg": 250}})
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(
            "/api/measurements/",
            {
                "item": pellet.code,
                "technique": "eis",
                "thickness_um": 600,
                "area_cm2": 1,
                "temperature_c": 25,
                "files": [SimpleUploadedFile(MPT.name, MPT.read_bytes())],
            },
            format="multipart",
        )
    assert first.status_code == 201, first.json()
    assert _sign(api, pellet.code).status_code == 201
    made = api.post(
        f"/api/pellets/{pellet.code}/new-version/", {"thickness_mm": 0.66}, format="json"
    )
    assert made.status_code == 201, made.json()
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(
            "/api/measurements/measure-again/", {"item": made.json()["code"]}, format="json"
        )
    (copied,) = again.json()
    assert (copied["thickness_um"], copied["area_cm2"]) == (None, 1.0)
    assert copied["notes"].endswith(
        f"Measured again from {first.json()['code']}; kept as typed there: electrode area (cm²) 1."
    )
    old, new = (
        Result.objects.get(measurement__code=c, kind="conductivity").values["conductivity_s_cm"]
        for c in (first.json()["code"], copied["code"])
    )
    assert new / old == pytest.approx(0.66 / 0.6, rel=1e-9)
