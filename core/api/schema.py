"""OpenAPI generation: drf-spectacular's AutoSchema plus the error answers every operation can
give, the bounds the validators apply and examples from the demo data, so clients (and
schemathesis) know what is accepted and what the 4xx bodies are."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.db.models import NOT_PROVIDED
from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent, get_view_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from core.models import REQUIRED_STEP_FIELDS, StepKind
from core.validators import GreaterThanZero

from .conditional import IF_MATCH, IF_NONE_MATCH, ConditionalMixin
from .serializers import ItemCodeField, NaturalKeyField, StepSerializer, StrictMixin

ERROR_SCHEMA = {
    "type": "object",
    "additionalProperties": {},
    "description": (
        'Either {"detail": "message"} or, for invalid input, {"field": ["message", ...]} '
        '(errors not tied to one field under "non_field_errors").'
    ),
}
CODE_PATTERN = "^[A-Za-z]+-[0-9]+$"
CSV_SCHEMA = {"type": "string", "description": "a CSV table with a header row, one row per record"}
WRITES = {"POST", "PUT", "PATCH"}
# A page of table rows: the lineage table, and a page of a measurement's series.
ROWS_PAGE = {
    "type": "object",
    "required": ["count", "next", "previous", "columns", "results"],
    "properties": {
        "count": {"type": "integer"},
        "next": {"type": "string", "format": "uri", "nullable": True},
        "previous": {"type": "string", "format": "uri", "nullable": True},
        "columns": {"type": "array", "items": {"type": "string"}},
        "results": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": {}},
            "description": "one object per row, keyed by `columns`",
        },
    },
}


class AutoSchema(openapi.AutoSchema):
    def _error_statuses(self) -> dict[str, str]:
        errors = {
            "401": "Not authenticated: send `Authorization: Token <key>` or log in.",
            "403": "Not allowed: writes need a staff account (and a session its CSRF token).",
            "406": "The Accept header or `format` asks for a format this endpoint cannot give.",
            "400": "The address or a query parameter holds a NUL character (or another "
            "character no record can store).",
        }
        if "{" in self.path:
            errors["404"] = "No record with this code."
        if self.method == "GET":
            errors["400"] = "A filter value is invalid (the field is named)."
            if self._is_list_view():
                errors["404"] = "No such page."
        if self.method in WRITES:
            errors["400"] = "Invalid input; the body names each field at fault."
            errors["409"] = "Conflicts with existing records."
            errors["413"] = "The body is larger than the server accepts."
            errors["415"] = (
                "The body must be UTF-8 JSON (Content-Type: application/json), or multipart "
                "where the endpoint takes files."
            )
        if self.method == "DELETE":
            errors["409"] = "Other records were made from this one; `dependents` lists them."
        if self._conditional() and self.method in {"PUT", "PATCH", "DELETE"}:
            errors["412"] = "The record changed since the ETag sent in If-Match; read it again."
        if self._conditional() and self.method == "GET":
            errors["304"] = "Not modified: the record still has the ETag sent in If-None-Match."
        return errors

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        # drf-spectacular knows Django's validators only: > 0 is ours.
        positive = any(isinstance(v, GreaterThanZero) for v in field.validators)
        numeric = schema.get("type") in ("number", "integer")
        if positive and numeric and schema.get("minimum", 0) <= 0:
            schema["minimum"], schema["exclusiveMinimum"] = 0, True

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if "$ref" in schema or "oneOf" in schema or "allOf" in schema:
            return schema
        for key, value in reference_schema(field).items():
            schema.setdefault(key, value)
        if direction == "request" and schema.get("type") == "array":
            schema.update(_list_bounds(field))
        if direction == "request" and _requires_text(field):
            # DRF strips blanks before its "may not be blank" check: "  " is not text either.
            schema.setdefault("pattern", r"\S")
        return schema

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        model = get_view_model(self.view, emit_warnings=False)
        for parameter in parameters:
            example = path_example(model, parameter["name"])
            if example is not None:
                parameter["example"] = example
        return parameters

    def _conditional(self) -> bool:
        """A read or write of one record by a view that answers with ETags."""
        return isinstance(self.view, ConditionalMixin) and getattr(self.view, "action", None) in {
            "retrieve",
            "update",
            "partial_update",
            "destroy",
        }

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self._conditional():
            if self.method in {"PUT", "PATCH", "DELETE"}:
                parameters = [*parameters, IF_MATCH]
            elif self.method == "GET":
                parameters = [*parameters, IF_NONE_MATCH]
        return parameters

    def _get_paginator(self):
        # Only GET lists are paginated; a POST answering a list (disks punched) is a plain one.
        return super()._get_paginator() if self.method == "GET" else None

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and schema.get("properties"):
            # DRF writes every readable field into every response, so all of them are always
            # there; saying so also lets `oneOf` (any item by code) tell the kinds apart.
            schema["required"] = sorted(schema["properties"])
        if direction == "request" and isinstance(serializer, StrictMixin):
            schema["additionalProperties"] = False  # other fields are a 400 (StrictMixin)
        if direction == "request" and not serializer.partial:
            _insert_model_defaults(serializer, schema.get("properties", {}))
        if direction == "request" and isinstance(serializer, StepSerializer):
            schema["oneOf"] = step_variants(schema["properties"])
        return schema

    def _error_ref(self) -> dict:
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for response in responses.values():
            # CSV is a text table, not the JSON object the serializer describes.
            if "text/csv" in response.get("content", {}):
                response["content"]["text/csv"] = {"schema": CSV_SCHEMA}
        for status, description in self._error_statuses().items():
            if status == "304":  # no body
                responses.setdefault(status, {"description": description})
                continue
            responses.setdefault(
                status,
                {
                    "description": description,
                    "content": {"application/json": {"schema": self._error_ref()}},
                },
            )
        return responses


def download_responses(what: str, not_found: str, conflict: str) -> dict:
    """The answers of an endpoint that hands out a file as an attachment, built from stored
    bytes that are checked on the way out: the file, 404, or 409 when they are not intact."""
    return {
        (200, "application/octet-stream"): OpenApiResponse(
            OpenApiTypes.BINARY, description=f"{what}, as an attachment"
        ),
        404: OpenApiResponse(description=not_found),
        409: OpenApiResponse(description=conflict),
    }


def _model_label(model) -> str:
    return model._meta.label_lower if model is not None else ""


# Example records the schema names (model label -> code or name; reagent category -> a lot's
# code), set by the composition layer (the demo app, whose records they are) at start-up.
EXAMPLES: dict[str, dict[str, str]] = {"codes": {}, "names": {}, "lots": {}}


def set_examples(*, codes: dict, names: dict, lots: dict) -> None:
    EXAMPLES.update(codes=dict(codes), names=dict(names), lots=dict(lots))


def reference_schema(field) -> dict:
    """For a field that names a record: a demo record as example (and a code's pattern)."""
    if field.read_only or not isinstance(field, ItemCodeField | NaturalKeyField):
        return {}
    label = _model_label(field.get_queryset().model)
    if isinstance(field, ItemCodeField):
        # A reagent slot's example is a demo lot of a category the slot takes.
        categories = getattr(field, "categories", ())
        example = EXAMPLES["lots"].get(categories[0]) if categories else None
        example = example or EXAMPLES["codes"].get(label)
        return {"pattern": CODE_PATTERN, **({"example": example} if example else {})}
    name = EXAMPLES["names"].get(label)
    return {"example": name} if name else {}


def path_example(model, name: str) -> str | None:
    if name == "code":
        return EXAMPLES["codes"].get(_model_label(model))
    return "1" if name == "id" else None


def step_variants(properties: dict) -> list[dict]:
    """A step in one of its shapes: the fields each kind of step needs (`ProcessStep.clean`),
    e.g. sintering a temperature and a duration, as required and not null."""
    kinds_needing: dict[tuple[str, ...], list[str]] = {}
    for kind in StepKind.values:
        kinds_needing.setdefault(tuple(REQUIRED_STEP_FIELDS.get(kind, ())), []).append(kind)
    return [
        {
            "type": "object",
            "properties": {
                # In allOf: drf-spectacular would turn a bare enum into the StepKindEnum.
                "kind": {"allOf": [{"type": "string", "enum": kinds}]},
                **{name: _not_null(properties[name]) for name in needed},
            },
            "required": ["kind", *needed],
        }
        for needed, kinds in kinds_needing.items()
    ]


def _not_null(schema: dict) -> dict:
    return {key: value for key, value in schema.items() if key != "nullable"}


def _insert_model_defaults(serializer, properties: dict) -> None:
    """What a field left out of a new record becomes (the model's default, as the forms
    pre-fill it): `10:1:4` rather than nothing for an SPE's molar ratio."""
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    for name, field in serializer.fields.items():
        prop = properties.get(name)
        if model is None or prop is None or "$ref" in prop or "allOf" in prop:
            continue
        try:
            model_field = model._meta.get_field(field.source)
        except (FieldDoesNotExist, AttributeError):
            continue
        default = getattr(model_field, "default", NOT_PROVIDED)
        if default is not NOT_PROVIDED and not callable(default):
            prop.setdefault("default", default)


def _list_bounds(field) -> dict:
    """How many elements a list takes (DRF's ListSerializer checks its bounds itself, not
    through validators drf-spectacular could read)."""
    bounds = {}
    if getattr(field, "allow_empty", True) is False:
        bounds["minItems"] = 1
    if getattr(field, "max_length", None) is not None:
        bounds["maxItems"] = field.max_length
    return bounds


def _requires_text(field) -> bool:
    return (
        isinstance(field, serializers.CharField)
        and not field.read_only
        and not field.allow_blank
        and field.trim_whitespace
    )
