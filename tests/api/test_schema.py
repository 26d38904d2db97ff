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
