"""Response formats: JSON (default) and CSV (`?format=csv`, for spreadsheets and pandas)."""

from __future__ import annotations

import math
from typing import Any

from rest_framework import renderers
from rest_framework.utils import json

from core.spreadsheet import csv_lines


def finite(data: Any) -> Any:
    """The data with NaN/inf floats as None: strict JSON cannot carry them, and a derived value
    (a relative density from a vanishing thickness) must not turn a response into a 500."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [finite(value) for value in data]
    return data


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        return super().render(finite(data), accepted_media_type, renderer_context)


def _flatten(row: dict, prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted columns; lists become JSON text in one cell."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(finite(value))
        else:
            flat[name] = finite(value)
    return flat


def _serializer_columns(renderer_context: dict | None) -> list[str]:
    """The fields a view's rows would have, for the header of an empty table."""
    view = (renderer_context or {}).get("view")
    try:
        serializer = view.get_serializer()
    except Exception:  # a view without a serializer: no header to give
        return []
    return [name for name, field in serializer.fields.items() if not field.write_only]


class CSVRenderer(renderers.BaseRenderer):
    """A table as CSV: a list of rows, a page of rows (`results`), or one record as one row.

    A response that says which `columns` it has gets that header even with no rows, so
    `pandas.read_csv` reads an empty result as an empty table. Text that a spreadsheet would
    run as a formula gets a leading apostrophe (`core.spreadsheet.safe_cell`, through
    `csv_lines`, as in the web lists' exports).
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        columns: list[str] = []
        rows = data
        # A page (`count` and `results`), not a record that has a field called results (a
        # measurement with its results is one row of the measurement).
        if isinstance(data, dict) and "count" in data and isinstance(data.get("results"), list):
            columns = [str(c) for c in data.get("columns") or []]
            rows = data["results"]
        if isinstance(rows, dict):
            rows = [rows]
        flat = [_flatten(row) if isinstance(row, dict) else {"value": row} for row in rows]
        if not flat and not columns:
            columns = _serializer_columns(renderer_context)
        header = list(dict.fromkeys([*columns, *(key for row in flat for key in row)]))
        # Every cell (header included) through the web lists' function: text that starts
        # like a formula is neutralised (core.spreadsheet). An empty header line still keeps
        # the Content-Type on the answer.
        lines = csv_lines(header, ([row.get(name) for name in header] for row in flat))
        return "".join(lines).encode(self.charset)
