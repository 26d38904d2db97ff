"""Ivium IviumSoft data files ``.idf`` (and the same layout saved as ``.ids``), impedance runs.

Mostly text with CRLF lines, in sections that start with a few binary bytes (16 NUL bytes, a
4-byte section length, then ``\\r\\x00``), so the file is read as bytes and decoded as
latin-1. The header is ``key=value`` lines (``Method=Impedance``, ``Technique=Constant I``,
``I_Frequencies.freq[k]=...`` or ``Frequencies.freq[k]=...``, ``starttime=``,
``serialnumber=``). The data follow a ``primary_data`` line that ends with the number of
columns, then a line with the number of rows, then the rows: whitespace-separated
``Z'  Z''  frequency``. Z'' keeps its sign (negative when capacitive), the canonical
convention. The frequencies are checked against the ones the method lists in the header, so a
file whose columns are in another order is refused rather than read wrongly.
"""

from __future__ import annotations

import contextlib
import math
import pathlib
import re

from measurements import canonical as c

from ._common import ensure_rows, frame_from_values, to_float
from .base import ParsedData, ParseError, guard

_SECTION_START = b"\x00" * 16
_MARKER = re.compile(r"^primary_data\s*\x00?\s*(\S*)\s*$")
_COLUMNS = ("Z'", "Z''", "frequency")
_FREQ_KEY = re.compile(r"^(?:[A-Z]_)?Frequencies\.freq\[(\d+)\]$")
_HEADER_KEYS = ("Title", "Method", "Technique", "starttime", "endtime", "serialnumber")


def _lines(data: bytes) -> list[str]:
    # Sections are separated by "\r\x00": keep "\n" as the only line break so that line numbers
    # match what a text editor shows for the CRLF text parts.
    return [line.rstrip("\r") for line in data.decode("latin-1").split("\n")]


def _header(lines: list[str], end: int) -> tuple[dict[str, str], dict[int, float]]:
    fields: dict[str, str] = {}
    frequencies: dict[int, float] = {}
    for line in lines[:end]:
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key = key.strip("\x00\r ")
        fields.setdefault(key, value.strip())
        match = _FREQ_KEY.match(key)
        if match:
            with contextlib.suppress(ValueError):  # an unreadable entry only skips the check
                frequencies[int(match.group(1))] = float(value)
    return fields, frequencies


def _count(token: str, what: str, line: int) -> int:
    if not token.strip().isdigit():
        raise ParseError(
            f"{what}: expected a whole number, found '{token.strip()[:40]}'", line=line
        )
    return int(token)


class IviumParser:
    name = "ivium_idf"
    label = "Ivium impedance (.idf/.ids)"
    extensions = (".idf", ".ids")

    def sniff(self, head: bytes, filename: str) -> bool:
        if head.startswith(_SECTION_START) and head[20:30] == b"\r\x00Version=":
            return b"\nMethod=" in head or b"serialnumber=" in head
        return filename.lower().endswith(self.extensions) and b"\nMethod=" in head

    @guard("Ivium")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        data = path.read_bytes()
        if not data.strip(b"\x00 \t\r\n"):
            raise ParseError("empty file: no Ivium data")
        lines = _lines(data)
        marker = next((i for i, line in enumerate(lines) if _MARKER.match(line)), None)
        fields, frequencies = _header(lines, marker if marker is not None else len(lines))
        method = fields.get("Method")
        if method is None:
            raise ParseError("not an Ivium data file: no 'Method=' line in the header")
        if method != "Impedance":
            raise ParseError(
                f"Ivium file holds a '{method[:60]}' run, not an impedance spectrum "
                "(Method=Impedance)"
            )
        if marker is None:
            raise ParseError(
                "Ivium file has no 'primary_data' block: the measurement recorded no data, or the "
                "file is cut short"
            )
        columns = _count(_MARKER.match(lines[marker]).group(1), "primary_data columns", marker + 1)
        if columns != len(_COLUMNS):
            raise ParseError(
                f"primary_data has {columns} columns, an impedance run has 3 (Z', Z'', frequency)",
                line=marker + 1,
            )
        if marker + 1 >= len(lines):
            raise ParseError("primary_data: no row count (file cut short?)", line=marker + 1)
        rows = _count(lines[marker + 1], "primary_data row count", marker + 2)
        values = self._rows(lines, marker + 2, rows)
        self._check_frequencies(values[c.FREQUENCY_HZ], frequencies, marker + 3)
        frame = frame_from_values("eis", values)
        ensure_rows(frame, "Ivium primary_data")
        metadata = {
            "instrument": "Ivium",
            "format": self.label,
            "encoding": "latin-1",
            "decimal_separator": ".",
            "row_count": frame.height,
            "original_columns": "; ".join(_COLUMNS),
            f"column:{c.Z_REAL_OHM}": "Z'",
            f"column:{c.Z_IMAG_OHM}": "Z''",
            f"column:{c.FREQUENCY_HZ}": "frequency",
            **{f"header:{k}": fields[k] for k in _HEADER_KEYS if fields.get(k)},
        }
        return ParsedData("eis", frame, metadata, [])

    def _rows(self, lines: list[str], start: int, count: int) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {c.Z_REAL_OHM: [], c.Z_IMAG_OHM: [], c.FREQUENCY_HZ: []}
        for index in range(start, start + count):
            number = index + 1
            if index >= len(lines) or not lines[index].strip():
                raise ParseError(
                    f"primary_data announces {count} rows, found {index - start} (file cut short?)",
                    line=number,
                )
            fields = lines[index].split()
            if len(fields) != len(_COLUMNS):
                raise ParseError(
                    f"expected {len(_COLUMNS)} columns, found {len(fields)}", line=number
                )
            for position, (name, column) in enumerate(zip(out, _COLUMNS, strict=True)):
                out[name].append(to_float(fields[position], ".", number, column))
        return out

    def _check_frequencies(self, found: list[float], planned: dict[int, float], line: int) -> None:
        bad = next((i for i, f in enumerate(found) if not (math.isfinite(f) and f > 0)), None)
        if bad is not None:
            raise ParseError(
                f"column 'frequency': {found[bad]:g} is not a positive frequency",
                line=line + bad,
            )
        listed = [planned[k] for k in sorted(planned)]
        for i, (got, want) in enumerate(zip(found, listed, strict=False)):
            if not math.isclose(got, want, rel_tol=1e-4):
                raise ParseError(
                    f"third column reads {got:g} where the method's frequency {i + 1} is "
                    f"{want:g} Hz: the columns are not Z', Z'', frequency as expected",
                    line=line + i,
                )


PARSER = IviumParser()
