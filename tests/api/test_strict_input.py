"""The API refuses what it does not understand: unknown and read-only fields (nested ones too),
loose JSON types, unknown choices, text no database can store, bodies in other charsets. Each
answer is a 400 naming the field, and nothing is written."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework import serializers

from core.api.serializers import ItemCodeField
from core.models import AuditEvent, Item
from core.validators import UNSTORABLE_MESSAGE
from measurements.models import Measurement, RawFile
from synthesis.api.serializers import ElectrodeDiskSetSerializer
from synthesis.models import PelletSet
from tests import factories

PELLET_WRITABLE = "notes, project, thickness_mm, diameter_mm, mass_mg"
READ_ONLY = "Read-only field: the LIMS sets it; leave it out."


def unknown(writable: str) -> list[str]:
    return [f"Unknown field: the fields you can send are {writable}."]


def raw_json(api, method: str, url: str, body: dict):
    """Send `body` as JSON text exactly as json.dumps writes it (lone surrogates as \\ud800)."""
    return getattr(api, method)(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def pellet(db):
    return factories.pellets(count=1)[0]


def _unchanged(before_audit: int, pellet) -> None:
    pellet.refresh_from_db()
    assert (pellet.thickness_mm, pellet.notes) == (None, "")
    assert AuditEvent.objects.count() == before_audit


# --- 1. unknown and read-only fields -----------------------------------------------------


def test_a_misspelt_field_is_400_naming_it_and_the_fields_that_exist(api, pellet):
    before = AuditEvent.objects.count()
    response = api.patch(f"/api/pellets/{pellet.code}/", {"thickness_um": 600}, format="json")
    assert response.status_code == 400
    assert response.json() == {"thickness_um": unknown(PELLET_WRITABLE)}
    _unchanged(before, pellet)


def test_a_read_only_field_is_400_saying_so(api, pellet):
    before = AuditEvent.objects.count()
    body = {"thickness_mm": 0.6, "relative_density": 0.95, "code": "PEL-0999"}
    response = api.patch(f"/api/pellets/{pellet.code}/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"relative_density": [READ_ONLY], "code": [READ_ONLY]}
    _unchanged(before, pellet)


def test_unknown_fields_and_invalid_values_are_named_in_one_answer(api, pellet):
    body = {"thickness_mm": -1, "colour": "blue"}
    response = api.patch(f"/api/pellets/{pellet.code}/", body, format="json")
    assert response.json() == {
        "thickness_mm": ["Must be greater than zero."],
        "colour": unknown(PELLET_WRITABLE),
    }


def test_unknown_fields_of_nested_objects_are_named_by_their_place(api, parts):
    li, pellet, disk = parts["li"], parts["pellet"], parts["disk"]
    layers = [
        {"side": "negative", "item": li.code},
        {"side": "electrolyte", "item": pellet.code, "amount_uL": 5},
        {"side": "positive", "item": disk.code},
    ]
    response = api.post("/api/cells/", {"layers": layers}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "layers": {"1": {"amount_uL": unknown("side, item, amount_ul, label")}}
    }
    batch = pellet.pellet_set.batch
    body = {
        "precursors": [{"role": "li", "reagent_lot": li.code, "planned_mass_g": 1, "mass_g": 1}],
        "steps": [{"kind": "drying", "temperature_c": 80, "temp_c": 80}],
    }
    response = api.patch(f"/api/lagp-batches/{batch.code}/", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert errors["precursors"]["0"]["mass_g"][0].startswith("Unknown field: ")
    assert errors["steps"]["0"]["temp_c"] == unknown(
        "kind, temperature_c, duration_min, ramp_c_min, atmosphere, pressure_mbar, rpm, "
        "solvent, jar_material, pressure_t_cm2, lamp_power_w, notes"
    )
    assert not Item.objects.filter(kind="cell").exists()


@pytest.fixture
def parts(db):
    return {
        "li": factories.reagent_lot("Lithium foil", "Li", "Li"),
        "pellet": factories.pellets(count=1)[0],
        "disk": factories.cathode_disks(count=1)[0],
    }


def test_a_pellet_sets_count_is_explained_on_update(api, pellet):
    response = api.patch(f"/api/pellet-sets/{pellet.pellet_set_id}/", {"count": 5}, format="json")
    assert response.json() == {
        "count": ["The pellets of a set are made with it; press a new set instead."]
    }
    response = api.patch(f"/api/pellet-sets/{pellet.pellet_set_id}/", {"items": []}, format="json")
    assert response.json() == {"items": [READ_ONLY]}


def test_a_multipart_upload_with_misnamed_fields_is_400_and_stores_nothing(api, pellet):
    body = {
        "item": pellet.code,
        "technique": "eis",
        "temperature": "25",
        "file": SimpleUploadedFile("p.mpt", b"EC-Lab ASCII FILE\n"),
    }
    response = api.post("/api/measurements/", body, format="multipart")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"temperature", "file"}
    assert errors["temperature"][0].startswith(
        "Unknown field: the fields you can send are item, technique, instrument, temperature_c,"
    )
    assert errors["file"][0].endswith("notes, files.")
    assert not Measurement.objects.exists() and not RawFile.objects.exists()


def test_files_in_a_json_body_are_explained(api, pellet):
    body = {"item": pellet.code, "technique": "eis", "files": ["p.mpt"]}
    response = api.post("/api/measurements/", body, format="json")
    assert response.status_code == 400
    assert "send raw files as multipart/form-data" in response.json()["files"]["0"][0]
    assert not Measurement.objects.exists()


# --- 2. codes and names match case-insensitively -----------------------------------------


def test_item_codes_and_chemical_names_match_in_any_case(api, pellet):
    response = api.post(
        "/api/measurements/", {"item": pellet.code.lower(), "technique": "eis"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["item"] == pellet.code
    factories.ChemicalFactory(name="Lithium foil", formula="Li")
    body = {"chemical": "LITHIUM FOIL", "supplier": "Honjo", "lot_number": "H7", "quantity": 50}
    response = api.post("/api/reagent-lots/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["chemical"] == "Lithium foil"


def test_names_differing_only_in_case_prefer_the_exact_one(api, db):
    factories.ChemicalFactory(name="PEO", formula="PEO")
    factories.ChemicalFactory(name="peo", formula="(CH2CH2O)n")
    body = {"chemical": "peo", "supplier": "Sigma", "lot_number": "1", "quantity": 50}
    assert api.post("/api/reagent-lots/", body, format="json").json()["formula"] == "(CH2CH2O)n"
    response = api.post("/api/reagent-lots/", {**body, "chemical": "Unobtainium"}, format="json")
    assert response.json() == {"chemical": ["No chemical named 'Unobtainium'."]}


# --- 3. choices ------------------------------------------------------------------------


def test_choices_match_in_any_case_and_a_wrong_one_lists_the_valid_ones(api, pellet):
    response = api.post(
        "/api/measurements/", {"item": pellet.code, "technique": "EIS"}, format="json"
    )
    assert response.status_code == 201 and response.json()["technique"] == "eis"
    assert Measurement.objects.get().technique == "eis"
    response = api.post(
        "/api/measurements/", {"item": pellet.code, "technique": "foo"}, format="json"
    )
    assert response.json() == {
        "technique": ["'foo' is not a choice; use one of: eis, cycling, stripping, tga, xrd."]
    }
    response = api.post(
        "/api/measurements/", {"item": pellet.code, "technique": "eis", "parser": "CSV"}, "json"
    )
    assert response.json()["parser"][0].startswith(
        "'CSV' is not a choice; use one of: biologic_mpr"
    )


# --- 4. JSON types ---------------------------------------------------------------------


def test_a_number_for_text_or_a_boolean_for_a_number_is_400(api, pellet):
    before = AuditEvent.objects.count()
    body = {"notes": 5, "mass_mg": True, "diameter_mm": [13]}
    response = api.patch(f"/api/pellets/{pellet.code}/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "notes": ["Must be text (a JSON string), not a number."],
        "mass_mg": ["Must be a number."],
        "diameter_mm": ["Must be a number."],
    }
    _unchanged(before, pellet)


def test_a_numeric_string_is_still_a_number(api, pellet):
    response = api.patch(f"/api/pellets/{pellet.code}/", {"mass_mg": "250.5"}, format="json")
    assert response.status_code == 200
    assert response.json()["mass_mg"] == 250.5


def test_a_boolean_for_a_whole_number_is_400(api, db):
    batch = factories.lagp_batch()
    steps = [{"kind": "ball_milling", "rpm": True, "duration_min": 60}]
    response = api.patch(f"/api/lagp-batches/{batch.code}/", {"steps": steps}, format="json")
    assert response.json() == {"steps": {"0": {"rpm": ["Must be a whole number."]}}}


# --- 5. text no database can store -----------------------------------------------------


def _create_serializer(prefix: str, viewset):
    if prefix == "electrode-disks":  # its create() answers the set, with its own serializer
        return ElectrodeDiskSetSerializer
    view = viewset()
    view.action, view.request, view.format_kwarg = "create", None, None
    return view.get_serializer_class()


def _code_paths(serializer, path=()):
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, ItemCodeField):
            yield (*path, name)
        child = getattr(field, "child", None)
        if isinstance(child, serializers.Serializer):
            yield from _code_paths(child, (*path, name, "0"))


def _code_fields() -> list[tuple[str, tuple[str, ...]]]:
    """(endpoint, path) of every item code a new record's body names, nested ones too."""
    from lims.api.urls import router

    return [
        (prefix, path)
        for prefix, viewset, _ in router.registry
        if "post" in viewset.http_method_names and hasattr(viewset, "create")
        for path in _code_paths(_create_serializer(prefix, viewset)())
    ]


def _at(path: tuple[str, ...], value):
    """`value` placed at `path` ("0" is the first element of a list)."""
    if not path:
        return value
    head, *rest = path
    inner = _at(tuple(rest), value)
    return inner if head == "0" else {head: [inner] if rest and rest[0] == "0" else inner}


def _error_at(path: tuple[str, ...]):
    error = [UNSTORABLE_MESSAGE]
    for key in reversed(path):
        error = {key: error}
    return error


def test_every_endpoint_whose_body_names_codes_is_checked():
    # `supersedes` (a new version of a signed record) names a code on every single-record create.
    assert {endpoint for endpoint, _ in _code_fields()} == {
        "reagent-lots",
        "lagp-batches",
        "pellet-sets",
        "spe-membranes",
        "ile-batches",
        "cathode-coatings",
        "electrode-disks",
        "cells",
        "measurements",
    }


@pytest.mark.parametrize("endpoint, path", _code_fields())
@pytest.mark.parametrize("bad", ["\ud800", "PEL-\x000001"])
def test_a_lone_surrogate_or_nul_in_a_code_is_400_naming_the_field(api, db, endpoint, path, bad):
    before = (Item.objects.count(), Measurement.objects.count())
    response = raw_json(api, "post", f"/api/{endpoint}/", _at(path, bad))
    assert response.status_code == 400
    assert response.json() == _error_at(path)
    assert (Item.objects.count(), Measurement.objects.count()) == before


def test_unstorable_text_is_named_by_its_place_in_nested_bodies(api, parts):
    layers = [
        {"side": "negative", "item": parts["li"].code},
        {"side": "electrolyte", "item": "\udc00"},
        {"side": "positive", "item": parts["disk"].code, "label": "Pt\x00"},
    ]
    response = raw_json(api, "post", "/api/cells/", {"layers": layers, "notes": "ok"})
    assert response.status_code == 400
    assert response.json() == {
        "layers": {"1": {"item": [UNSTORABLE_MESSAGE]}, "2": {"label": [UNSTORABLE_MESSAGE]}}
    }


def test_a_nul_inside_measurement_options_is_400_not_a_database_error(api, pellet):
    body = {"item": pellet.code, "technique": "eis", "options": {"kind": "eis\x00"}}
    response = raw_json(api, "post", "/api/measurements/", body)
    assert response.status_code == 400
    assert response.json() == {"options": {"kind": [UNSTORABLE_MESSAGE]}}
    body["options"] = {"ki\ud800nd": "eis"}
    response = raw_json(api, "post", "/api/measurements/", body)
    assert response.json() == {"options": {"'ki\\ud800nd'": [UNSTORABLE_MESSAGE]}}
    assert not Measurement.objects.exists()


def test_a_surrogate_in_multipart_options_json_is_400(api, pellet):
    body = {"item": pellet.code, "technique": "eis", "options": '{"kind": "\\ud800"}'}
    response = api.post("/api/measurements/", body, format="multipart")
    assert response.status_code == 400
    assert response.json() == {"options": [f"kind: {UNSTORABLE_MESSAGE}"]}


def test_a_properly_paired_surrogate_is_just_an_emoji(api, pellet):
    response = raw_json(api, "patch", f"/api/pellets/{pellet.code}/", {"notes": "\U0001f50b ok"})
    assert response.status_code == 200
    pellet.refresh_from_db()
    assert pellet.notes == "\U0001f50b ok"


# --- 8. errors in the user's words ------------------------------------------------------


def test_a_blocked_delete_lists_the_measurements_that_block_it(api, db):
    cell = factories.full_cell()
    codes = [
        api.post("/api/measurements/", {"item": cell.code, "technique": t}, format="json").json()[
            "code"
        ]
        for t in ("cycling", "eis")
    ]
    response = api.delete(f"/api/cells/{cell.code}/")
    assert response.status_code == 409
    assert response.json()["dependents"] == sorted(codes)
    assert Item.objects.filter(pk=cell.pk).exists()


def test_database_errors_are_answered_without_the_databases_words(rf, caplog):
    from django.db import DataError, IntegrityError

    from core.api.exceptions import exception_handler

    leak = 'duplicate key value violates unique constraint "synthesis_chemical_name_key"'
    response = exception_handler(IntegrityError(leak), {})
    assert response.status_code == 409
    assert "constraint" not in json.dumps(response.data)
    assert response.data["detail"].startswith("The change conflicts with existing records")
    response = exception_handler(DataError("value too long for type character varying(20)"), {})
    assert response.status_code == 400
    assert response.data == {
        "non_field_errors": [
            "A value cannot be stored: it is too long, too large or not valid text."
        ]
    }
    assert "synthesis_chemical_name_key" in caplog.text  # kept for whoever reads the logs


# --- 9. upper bounds ---------------------------------------------------------------------


def test_megabyte_notes_and_astronomical_masses_are_refused(api, pellet):
    before = AuditEvent.objects.count()
    body = {"notes": "x" * 10_001, "mass_mg": 1e308}
    response = api.patch(f"/api/pellets/{pellet.code}/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "notes": ["Ensure this field has no more than 10000 characters."],
        "mass_mg": ["Must be at most 1000000."],
    }
    _unchanged(before, pellet)
    response = api.patch(f"/api/pellets/{pellet.code}/", {"notes": "x" * 10_000}, "json")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "endpoint, field, value, limit",
    [
        ("reagent-lots", "quantity", 2e6, "1000000"),
        ("lagp-batches", "yield_g", 1e5, "10000"),
        ("ile-batches", "water_content_ppm", 2e6, "1000000"),
        ("chemicals", "molar_mass_g_mol", 1e300, "100000000"),
    ],
)
def test_new_upper_bounds_are_named_in_the_field(api, db, endpoint, field, value, limit):
    response = api.post(f"/api/{endpoint}/", {field: value}, format="json")
    assert response.status_code == 400
    assert response.json()[field] == [f"Must be at most {limit}."]


def test_process_steps_layers_and_precursors_are_bounded_in_number(api, db):
    batch = factories.lagp_batch()
    steps = [{"kind": "drying", "temperature_c": 80}] * 51
    response = api.patch(f"/api/lagp-batches/{batch.code}/", {"steps": steps}, format="json")
    assert response.json() == {
        "steps": {"non_field_errors": ["Ensure this field has no more than 50 elements."]}
    }
    steps = [{"kind": "ball_milling", "rpm": 40_000, "duration_min": 200_000}]
    response = api.patch(f"/api/lagp-batches/{batch.code}/", {"steps": steps}, format="json")
    assert response.json() == {
        "steps": {
            "0": {"duration_min": ["Must be at most 100000."], "rpm": ["Must be at most 30000."]}
        }
    }


# --- 13. items made together -----------------------------------------------------------


def test_pellet_sets_and_disks_answer_in_the_same_shape(api, db):
    batch = factories.lagp_batch()
    coating = factories.cathode_disks(count=1)[0].coating
    pellets = api.post("/api/pellet-sets/", {"batch": batch.code, "count": 2}, format="json")
    disks = api.post("/api/electrode-disks/", {"coating": coating.code, "count": 2}, "json")
    assert (pellets.status_code, disks.status_code) == (201, 201)
    assert {k: pellets.json()[k] for k in ("count", "items")} == {
        "count": 2,
        "items": ["PEL-0001", "PEL-0002"],
    }
    assert {k: disks.json()[k] for k in ("count", "items")} == {
        "count": 2,
        "items": ["ELD-0002", "ELD-0003"],
    }
    listed = api.get("/api/pellet-sets/").json()["results"][0]
    assert (listed["count"], listed["items"]) == (2, ["PEL-0001", "PEL-0002"])
    assert PelletSet.objects.get().pellets.count() == 2
