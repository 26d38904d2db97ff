"""Gamry Framework ``.DTA`` impedance files (potentiostatic / galvanostatic EIS).

A tab-separated ``KEY<tab>TYPE<tab>VALUE<tab>label`` header, then tables introduced by
``NAME<tab>TABLE``: a column-name row and a units row, both starting with a tab, then rows
starting with a tab until the next section. The spectrum is the ``ZCURVE`` table; Zimag keeps
its sign (negative when capacitive), the canonical convention.
"""

from __future__ import annotations

import pathlib

from measurements import canonical as c

from ._common import (
    ensure_rows,
    frame_from_values,
    guess_decimal,
    looks_binary,
    names_metadata,
    numeric_rows,
    require_text,
)
from .base import ParsedData, ParseError, guard

_WANTED = {c.FREQUENCY_HZ: "Freq", c.Z_REAL_OHM: "Zreal", c.Z_IMAG_OHM: "Zimag"}
_HEADER_KEYS = (
    "TAG",
    "TITLE",
    "DATE",
    "TIME",
    "PSTAT",
    "AREA",
    "VDC",
    "VAC",
    "FREQINIT",
    "FREQFINAL",
)


def _tables(lines: list[str]) -> dict[str, int]:
    out = {}
    for index, line in enumerate(lines):
        cells = line.split("\t")
        if len(cells) >= 2 and cells[1].strip() == "TABLE" and cells[0].strip():
            out[cells[0].strip()] = index
    return out


def _zcurve(lines: list[str]) -> tuple[list[str], list[tuple[int, str]], int]:
    """(column names, numbered data rows, 1-based line of the ZCURVE marker)."""
    tables = _tables(lines)
    if "ZCURVE" not in tables:
        found = ", ".join(tables) or "none"
        raise ParseError(f"Gamry file has no ZCURVE table (not an impedance run; tables: {found})")
    start = tables["ZCURVE"]
    if start + 1 >= len(lines):
        raise ParseError("ZCURVE table has no column-name row", line=start + 1)
    names = [n.strip() for n in lines[start + 1].split("\t")]
    rows = []
    for index in range(start + 3, len(lines)):
        line = lines[index]
        if not line.startswith(("\t", " ")):
            break  # next section
        if line.strip():
            rows.append((index + 1, line))
    return names, rows, start + 1


def _header(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines[:200]:
        cells = line.split("\t")
        if len(cells) >= 3 and cells[0] in _HEADER_KEYS:
            out[f"header:{cells[0]}"] = cells[2].strip()
    return out


class GamryDtaParser:
    name = "gamry_dta"
    label = "Gamry EIS (.DTA)"
    extensions = (".dta",)

    def sniff(self, head: bytes, filename: str) -> bool:
        if looks_binary(head):
            return False
        return head.startswith(b"EXPLAIN") and b"TAG\t" in head[:256]

    @guard("Gamry .DTA")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        text, encoding = require_text(path, "Gamry")
        lines = text.splitlines()
        if not lines or lines[0].strip() != "EXPLAIN":
            raise ParseError("not a Gamry .DTA file: first line is not 'EXPLAIN'", line=1)
        names, rows, marker = _zcurve(lines)
        missing = [v for v in _WANTED.values() if v not in names]
        if missing:
            raise ParseError(
                f"column '{missing[0]}' missing from the ZCURVE table", line=marker + 1
            )
        if not rows:
            raise ParseError(f"ZCURVE table (line {marker}): header found but no data rows")
        decimal = guess_decimal(rows[0][1].split("\t"), "\t")
        indices = {canon: names.index(src) for canon, src in _WANTED.items()}
        values = numeric_rows(rows, separator="\t", decimal=decimal, names=names, indices=indices)
        data = frame_from_values("eis", values)
        ensure_rows(data, "Gamry ZCURVE")
        metadata = {
            "instrument": "Gamry",
            "format": self.label,
            "encoding": encoding,
            "decimal_separator": decimal,
            "row_count": data.height,
            **_header(lines),
            **names_metadata([n for n in names if n], _WANTED),
        }
        return ParsedData("eis", data, metadata, [])


PARSER = GamryDtaParser()
