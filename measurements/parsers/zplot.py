"""Scribner ZPlot / ZView ``.z`` files (Solartron 1260/1287 impedance).

Header of ``key: value`` lines up to ``End Comments``; the column names line
(``Freq(Hz) Ampl Bias Time(Sec) Z'(a) Z''(b) GD Err Range``) sits just before it. Data are tab
or comma separated. Z'' is exported with its sign (negative when capacitive), which is the
canonical convention, so it is kept as is.
"""

from __future__ import annotations

import pathlib
import re

import polars as pl

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

_DEFAULT_NAMES = ["Freq(Hz)", "Ampl", "Bias", "Time(Sec)", "Z'(a)", "Z''(b)", "GD", "Err", "Range"]
_WANTED = {c.FREQUENCY_HZ: "Freq(Hz)", c.Z_REAL_OHM: "Z'(a)", c.Z_IMAG_OHM: "Z''(b)"}


def _end_of_header(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if line.strip().lower() == "end comments":
            return index
    raise ParseError("not a ZPlot file: no 'End Comments' line ending the header")


def _names(header: list[str]) -> list[str]:
    for line in reversed(header):
        if "Freq(Hz)" in line:
            sep = "\t" if "\t" in line else ","
            return [n.strip() for n in line.strip().split(sep) if n.strip()]
    return _DEFAULT_NAMES


_HEADER_KEYS = (
    "Measured Data, ZPlot",
    "Experiment Type",
    "Date",
    "Time",
    "Open Circuit Potential (V)",
    "Data Points",
    "Surface Area",
)


def _header_fields(header: list[str]) -> dict[str, str]:
    out = {}
    for line in header:
        key, sep, value = line.partition(":")
        if sep and key.strip() in _HEADER_KEYS and value.strip():
            out[f"header:{key.strip()}"] = value.strip()
    return out


class ZPlotParser:
    name = "zplot"
    label = "ZPlot/ZView impedance (.z)"
    extensions = (".z",)

    def sniff(self, head: bytes, filename: str) -> bool:
        if looks_binary(head):
            return False
        return head.lstrip().startswith(b"ZPLOT") or (
            b"End Comments" in head and b"Freq(Hz)" in head
        )

    @guard("ZPlot")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        text, encoding = require_text(path, "ZPlot")
        lines = text.splitlines()
        end = _end_of_header(lines)
        names = _names(lines[:end])
        missing = [v for v in _WANTED.values() if v not in names]
        if missing:
            raise ParseError(f"column '{missing[0]}' missing from the ZPlot column line")
        rows = [(i + 1, line) for i, line in enumerate(lines) if i > end and line.strip()]
        if not rows:
            raise ParseError(f"ZPlot file: header found but no data rows after line {end + 1}")
        sep = guess_separator([line for _, line in rows])
        decimal = guess_decimal(split_fields(rows[0][1], sep), sep)
        indices = {canon: names.index(src) for canon, src in _WANTED.items()}
        values = numeric_rows(rows, separator=sep, decimal=decimal, names=names, indices=indices)
        data = frame_from_values("eis", values)
        ensure_rows(data, "ZPlot file")
        return ParsedData(
            "eis",
            data,
            self._metadata(lines[:end], names, encoding, decimal, data),
            self._warnings(lines[:end], data.height),
        )

    def _metadata(
        self, header: list[str], names: list[str], encoding: str, decimal: str, data: pl.DataFrame
    ) -> dict:
        return {
            "instrument": "Solartron (ZPlot)",
            "format": self.label,
            "encoding": encoding,
            "decimal_separator": decimal,
            "row_count": data.height,
            **_header_fields(header),
            **names_metadata(names, _WANTED),
        }

    def _warnings(self, header: list[str], rows: int) -> list[str]:
        for line in header:
            match = re.match(r"\s*Data Points:\s*(\d+)", line)
            if match and int(match.group(1)) != rows:
                return [
                    Doubt(
                        f"header announces {match.group(1)} data points, file has {rows} "
                        "(sweep stopped early?)"
                    )
                ]
        return []


PARSER = ZPlotParser()
