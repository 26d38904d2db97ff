"""Metrohm Autolab impedance text exports, two layouts.

- FRA "Z60W Data File" (the layout impedance.py's ``autolab`` reader reads): a quoted title
  line, quoted blank lines, a line of sweep settings, the point count, the quoted column line
  ``"  Freq (Hz)    Ampl     Bias   Time(Sec)   Z'(a)    Z''(b)    GD   Err   Range"`` and
  comma-separated rows. Z'' is signed (negative when capacitive) and kept as is.
- NOVA ASCII export: one column line such as
  ``Index;Frequency (Hz);Z' (Ω);-Z'' (Ω);Z (Ω);-Phase (°);Time (s)`` (';', tab or ',' between
  columns; a decimal comma on European Windows), then the rows. NOVA writes -Z''; the parser
  flips it to the canonical Z''.
"""

from __future__ import annotations

import pathlib
import re

from measurements import canonical as c

from ._common import (
    ensure_rows,
    frame_from_values,
    guess_decimal,
    guess_separator,
    looks_binary,
    names_metadata,
    numeric_rows,
    require_text,
    split_fields,
)
from .base import Doubt, ParsedData, ParseError, guard

_Z60W = re.compile(r'^\ufeff?"?Z60W Data File', re.IGNORECASE)
_Z60W_WANTED = {c.FREQUENCY_HZ: "Freq (Hz)", c.Z_REAL_OHM: "Z'(a)", c.Z_IMAG_OHM: "Z''(b)"}
_Z60W_NAMES = re.compile(r"Freq \(Hz\)|Ampl|Bias|Time\(Sec\)|Z'\(a\)|Z''\(b\)|GD|Err|Range")

_OHM = r"\((?:\u03a9|\u2126|ohm|Ohm)\)"  # Greek capital omega or the ohm sign
_NOVA_PATTERNS = {
    c.FREQUENCY_HZ: re.compile(r"^Frequency \(Hz\)$"),
    c.Z_REAL_OHM: re.compile(rf"^Z' {_OHM}$"),
    c.Z_IMAG_OHM: re.compile(rf"^-?Z'' {_OHM}$"),
}


def _is_nova_column_line(line: str) -> bool:
    return "Frequency (Hz)" in line and re.search(rf"-?Z'' {_OHM}", line) is not None


class AutolabParser:
    name = "autolab"
    label = "Autolab impedance text (FRA Z60W, NOVA ASCII)"
    extensions = (".txt", ".csv", ".dfr")

    def sniff(self, head: bytes, filename: str) -> bool:
        if looks_binary(head):
            return False
        text = head[:2048].decode("utf-8", errors="replace")
        if _Z60W.match(text.lstrip("\r\n ")):
            return True
        first = text.lstrip("\ufeff").split("\n", 1)[0]
        return _is_nova_column_line(first)

    @guard("Autolab")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        text, encoding = require_text(path, "Autolab")
        lines = text.splitlines()
        if lines and _Z60W.match(lines[0].lstrip()):
            return self._z60w(lines, encoding)
        if lines and _is_nova_column_line(lines[0]):
            return self._nova(lines, encoding)
        raise ParseError(
            "not an Autolab impedance export: expected a 'Z60W Data File' title or a NOVA "
            "column line with 'Frequency (Hz)' and Z'' on line 1"
        )

    def _z60w(self, lines: list[str], encoding: str) -> ParsedData:
        start = next(
            (i for i, line in enumerate(lines[:50]) if "Freq (Hz)" in line and "Z'(a)" in line),
            None,
        )
        if start is None:
            raise ParseError(
                "Autolab Z60W file without the column line 'Freq (Hz) ... Z'(a) Z''(b)'"
            )
        names = _Z60W_NAMES.findall(lines[start])
        rows = [(i + 1, line) for i, line in enumerate(lines) if i > start and line.strip()]
        if not rows:
            raise ParseError(f"Autolab file: no data rows after line {start + 1}")
        indices = {canon: names.index(src) for canon, src in _Z60W_WANTED.items()}
        values = numeric_rows(rows, separator=",", decimal=".", names=names, indices=indices)
        data = frame_from_values("eis", values)
        ensure_rows(data, "Autolab file")
        warnings = []
        announced = lines[start - 1].strip() if start else ""
        if announced.isdigit() and int(announced) != data.height:
            warnings.append(
                Doubt(
                    f"header announces {announced} points, file has {data.height} "
                    "(sweep stopped early?)"
                )
            )
        metadata = {
            "instrument": "Metrohm Autolab (FRA)",
            "format": self.label,
            "layout": "Z60W",
            "header:title": lines[0].strip().strip('\ufeff"'),
            "encoding": encoding,
            "decimal_separator": ".",
            "row_count": data.height,
            **names_metadata(names, _Z60W_WANTED),
        }
        return ParsedData("eis", data, metadata, warnings)

    def _nova(self, lines: list[str], encoding: str) -> ParsedData:
        rows = [(i + 1, line) for i, line in enumerate(lines) if i > 0 and line.strip()]
        if not rows:
            raise ParseError("Autolab NOVA file: column line found but no data rows")
        sep = guess_separator([lines[0], *(line for _, line in rows[:20])])
        if sep is None:
            raise ParseError("Autolab NOVA file: cannot tell what separates the columns", line=1)
        names = [n.strip().strip('"') for n in lines[0].split(sep)]
        sources = {}
        for canon, pattern in _NOVA_PATTERNS.items():
            found = [n for n in names if pattern.match(n)]
            if not found:
                raise ParseError(f"no {canon} column in the NOVA column line", line=1)
            sources[canon] = found[0]
        decimal = guess_decimal(split_fields(rows[0][1], sep), sep)
        indices = {canon: names.index(src) for canon, src in sources.items()}
        values = numeric_rows(rows, separator=sep, decimal=decimal, names=names, indices=indices)
        if sources[c.Z_IMAG_OHM].startswith("-"):
            values[c.Z_IMAG_OHM] = [-v for v in values[c.Z_IMAG_OHM]]
        data = frame_from_values("eis", values)
        ensure_rows(data, "Autolab NOVA file")
        metadata = {
            "instrument": "Metrohm Autolab (NOVA)",
            "format": self.label,
            "layout": "NOVA ASCII",
            "encoding": encoding,
            "delimiter": sep,
            "decimal_separator": decimal,
            "row_count": data.height,
            **names_metadata(names, sources),
        }
        return ParsedData("eis", data, metadata, [])


PARSER = AutolabParser()
