"""OpenAPI generation: drf-spectacular's AutoSchema plus the error answers every operation can
give, so clients (and schemathesis) know the 4xx bodies too."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent

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
        return errors

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
            responses.setdefault(
                status,
                {
                    "description": description,
                    "content": {"application/json": {"schema": self._error_ref()}},
                },
            )
        return responses
