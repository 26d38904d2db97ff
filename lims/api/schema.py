"""OpenAPI generation: drf-spectacular's AutoSchema plus the error answers every operation can
give, so clients (and schemathesis) know the 4xx bodies too."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent

from .conditional import IF_MATCH, IF_NONE_MATCH, ConditionalMixin

ERROR_SCHEMA = {
    "type": "object",
    "additionalProperties": {},
    "description": (
        'Either {"detail": "message"} or, for invalid input, {"field": ["message", ...]} '
        '(errors not tied to one field under "non_field_errors").'
    ),
}
CSV_SCHEMA = {"type": "string", "description": "a CSV table with a header row, one row per record"}
WRITES = {"POST", "PUT", "PATCH"}


class AutoSchema(openapi.AutoSchema):
    def _error_statuses(self) -> dict[str, str]:
        errors = {
            "401": "Not authenticated: send `Authorization: Token <key>` or log in.",
            "403": "Not allowed: writes need a staff account (and a session its CSRF token).",
            "406": "The Accept header or `format` asks for a format this endpoint cannot give.",
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
            errors["415"] = "The body must be JSON (Content-Type: application/json)."
        if self.method == "DELETE":
            errors["409"] = "Other records were made from this one; `dependents` lists them."
        if self._conditional() and self.method in {"PUT", "PATCH", "DELETE"}:
            errors["412"] = "The record changed since the ETag sent in If-Match; read it again."
        if self._conditional() and self.method == "GET":
            errors["304"] = "Not modified: the record still has the ETag sent in If-None-Match."
        return errors

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
