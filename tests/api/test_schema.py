"""The OpenAPI schema is valid and complete, with no generator warnings."""

from __future__ import annotations

from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


def test_the_generated_schema_is_valid_openapi(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    paths = set(schema["paths"])
    for resource in (
        "reagent-lots",
        "chemicals",
        "lagp-batches",
        "pellet-sets",
        "pellets",
        "spe-membranes",
        "ile-batches",
        "cathode-coatings",
        "electrode-disks",
        "cells",
    ):
        assert f"/api/{resource}/" in paths
    assert {"/api/items/{code}/lineage/", "/api/lineage-table/", "/api/tokens/"} <= paths
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_spectacular_validates_without_warnings(db, tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/cells/" in out.read_text()


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_states_the_bounds_the_validators_apply(db):
    components = _schema()["components"]["schemas"]
    pellet = components["PatchedPelletRequest"]
    assert pellet["properties"]["thickness_mm"] == {
        "type": "number",
        "format": "double",
        "minimum": 0,
        "exclusiveMinimum": True,  # core.validators.greater_than_zero
        "maximum": 50.0,
        "nullable": True,
        "title": "Thickness after polishing (mm)",
    }
    assert pellet["properties"]["notes"]["maxLength"] == 10_000
    assert pellet["additionalProperties"] is False  # unknown fields are a 400
    batch = components["LagpBatchRequest"]["properties"]
    assert (batch["steps"]["maxItems"], batch["precursors"]["maxItems"]) == (50, 4)
    assert batch["yield_g"]["maximum"] == 10_000
    assert components["ReagentLotRequest"]["properties"]["supplier"]["pattern"] == r"\S"
    assert components["SpeMembraneRequest"]["properties"]["molar_ratio"]["default"] == "10:1:4"
    upload = components["UploadRequest"]["properties"]["files"]
    assert upload["minItems"] == 1


def test_a_steps_schema_says_what_each_kind_of_step_needs(db):
    step = _schema()["components"]["schemas"]["StepRequest"]
    needs = {
        tuple(variant["properties"]["kind"]["allOf"][0]["enum"]): variant["required"]
        for variant in step["oneOf"]
    }
    assert needs[("pretreatment", "calcination", "sintering")] == [
        "kind",
        "temperature_c",
        "duration_min",
    ]
    assert needs[("ball_milling",)] == ["kind", "rpm", "duration_min"]
    assert needs[("solvent_removal", "casting", "other")] == ["kind"]
    sintering = next(v for v in step["oneOf"] if "sintering" in str(v))
    assert "nullable" not in sintering["properties"]["temperature_c"]


def test_examples_name_demo_records(demo):
    from cells.models import Cell
    from core.models import Item
    from demo.records import EXAMPLE_CODES, EXAMPLE_NAMES
    from synthesis.models import Chemical

    schema = _schema()
    body = schema["components"]["schemas"]["PelletSetRequest"]["properties"]["batch"]
    assert (body["example"], body["pattern"]) == ("LAGP-0001", "^[A-Za-z]+-[0-9]+$")
    lot = schema["components"]["schemas"]["ReagentLotRequest"]["properties"]["chemical"]
    assert lot["example"] == "Lithium foil"
    parameters = schema["paths"]["/api/cells/{code}/"]["get"]["parameters"]
    assert next(p for p in parameters if p["name"] == "code")["example"] == "CELL-0005"
    not_items = {"measurements.measurement", "lims.project"}
    items = {code for label, code in EXAMPLE_CODES.items() if label not in not_items}
    assert set(Item.objects.filter(code__in=items).values_list("code", flat=True)) == items
    assert Cell.objects.filter(code=EXAMPLE_CODES["cells.cell"]).exists()
    assert Item.objects.get(code="CELL-0005").project.code == EXAMPLE_CODES["lims.project"]
    assert Chemical.objects.filter(name=EXAMPLE_NAMES["synthesis.chemical"]).exists()
