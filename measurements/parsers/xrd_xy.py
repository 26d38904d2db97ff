"""Two-column XRD patterns (``.xy``/``.xye``): 2θ in degrees, intensity.

Comma, tab, semicolon or whitespace separated; an optional header line (``theta,intensity``)
or ``#``/``'`` comment lines; a third column (standard uncertainty, .xye) is ignored.
"""

from __future__ import annotations

import pathlib

from measurements import canonical as c

from ._common import (
    ensure_rows,
    frame_from_values,
    guess_decimal,
    guess_separator,
    is_number,
    looks_binary,
    numeric_rows,
    require_text,
    split_fields,
)
from .base import ParsedData, ParseError, guard

_COMMENT = ("#", "'", "!", ";", "//")


def _data_start(lines: list[str]) -> int:
    """Index of the first line whose first two fields are numbers."""
    for index, line in enumerate(lines[:100]):
        if not line.strip() or line.lstrip().startswith(_COMMENT):
            continue
        fields = [f for f in split_fields(line, guess_separator([line])) if f]
        if len(fields) >= 2 and is_number(fields[0]) and is_number(fields[1]):
            return index
    raise ParseError("not a two-column XRD pattern: no line starting with two numbers")


class XrdXyParser:
    name = "xrd_xy"
    label = "XRD pattern, two columns (.xy)"
    extensions = (".xy", ".xye")

    def sniff(self, head: bytes, filename: str) -> bool:
        if looks_binary(head):
            return False
        if filename.lower().endswith(self.extensions):
            return True
        first = head.lstrip().split(b"\n", 1)[0].lower()
        return b"theta" in first and len(first) < 80

    @guard("XRD .xy")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        text, encoding = require_text(path, "XRD")
        lines = text.splitlines()
        start = _data_start(lines)
        rows = [(i + 1, x) for i, x in enumerate(lines) if i >= start and x.strip()]
        sep = guess_separator([x for _, x in rows[:50]])
        first = split_fields(rows[0][1], sep)
        names = [f"column {i + 1}" for i in range(len(first))]
        decimal = guess_decimal(first, sep)
        values = numeric_rows(
            rows,
            separator=sep,
            decimal=decimal,
            names=names,
            indices={c.TWO_THETA_DEG: 0, c.INTENSITY: 1},
        )
        data = frame_from_values("xrd", values)
        ensure_rows(data, "XRD pattern")
        metadata = {
            "format": self.label,
            "encoding": encoding,
            "decimal_separator": decimal,
            "row_count": data.height,
            "original_columns": lines[start - 1].strip() if start else "",
            "column:two_theta_deg": "column 1",
            "column:intensity": "column 2",
        }
        return ParsedData("xrd", data, metadata, [])


PARSER = XrdXyParser()
