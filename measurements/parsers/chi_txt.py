"""CH Instruments (CHI 600/700 series) text export of an A.C. Impedance run.

A date line, ``A.C. Impedance``, ``key: value`` lines (``Instrument Model:  CHI660E``), the
technique's ``key = value`` parameters (``Amplitude (V) = 0.025``), then the column line
``Freq/Hz, Z'/ohm, Z"/ohm, Z/ohm, Phase/deg``, a blank line and comma-separated rows.
Z" is exported with its sign (negative when capacitive), the canonical convention, so it is
kept as is; |Z| and the phase are checked against Z' and Z" as a consistency test of the columns.
"""

from __future__ import annotations

import math
import pathlib
import re

from measurements import canonical as c

from ._common import (
    ensure_rows,
    frame_from_values,
    looks_binary,
    names_metadata,
    numeric_rows,
    require_text,
)
from .base import ParsedData, ParseError, guard

_WANTED = {c.FREQUENCY_HZ: "Freq/Hz", c.Z_REAL_OHM: "Z'/ohm", c.Z_IMAG_OHM: 'Z"/ohm'}
_MODULUS = "Z/ohm"
_HEADER_KEYS = ("Instrument Model", "Data Source", "File")
_PARAMETERS = ("Init E (V)", "High Frequency (Hz)", "Low Frequency (Hz)", "Amplitude (V)")


def _column_line(lines: list[str]) -> int:
    for index, line in enumerate(lines[:200]):
        if line.lstrip().startswith("Freq/Hz"):
            return index
    raise ParseError(
        "CH Instruments file without the column line 'Freq/Hz, Z'/ohm, Z\"/ohm, ...': "
        "export the impedance run as text (File > Convert to Text) and upload that"
    )


def _header_fields(header: list[str]) -> dict[str, str]:
    out = {}
    for line in header:
        key, sep, value = line.partition(":")
        if sep and key.strip() in _HEADER_KEYS and value.strip():
            out[f"header:{key.strip()}"] = value.strip()
        key, sep, value = line.partition("=")
        if sep and key.strip() in _PARAMETERS and value.strip():
            out[f"header:{key.strip()}"] = value.strip()
    return out


class ChiImpedanceParser:
    name = "chi_txt"
    label = "CH Instruments impedance text (.txt)"
    extensions = (".txt", ".csv")

    def sniff(self, head: bytes, filename: str) -> bool:
        if looks_binary(head):
            return False
        return b"A.C. Impedance" in head[:400] and b"Freq/Hz" in head

    @guard("CH Instruments")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        text, encoding = require_text(path, "CH Instruments")
        lines = text.splitlines()
        start = _column_line(lines)
        names = [n.strip() for n in lines[start].split(",")]
        missing = [v for v in _WANTED.values() if v not in names]
        if missing:
            raise ParseError(f"column '{missing[0]}' missing from the column line", line=start + 1)
        rows = [(i + 1, line) for i, line in enumerate(lines) if i > start and line.strip()]
        if not rows:
            raise ParseError(f"CH Instruments file: no data rows after line {start + 1}")
        indices = {canon: names.index(src) for canon, src in _WANTED.items()}
        if _MODULUS in names:
            indices[_MODULUS] = names.index(_MODULUS)
        values = numeric_rows(rows, separator=",", decimal=".", names=names, indices=indices)
        modulus = values.pop(_MODULUS, None)
        if modulus is not None:
            self._check_modulus(rows, values, modulus)
        data = frame_from_values("eis", values)
        ensure_rows(data, "CH Instruments file")
        header = lines[:start]
        metadata = {
            "instrument": "CH Instruments",
            "format": self.label,
            "encoding": encoding,
            "decimal_separator": ".",
            "row_count": data.height,
            **_header_fields(header),
            **names_metadata(names, _WANTED),
        }
        return ParsedData("eis", data, metadata, self._warnings(header))

    @staticmethod
    def _check_modulus(rows, values: dict[str, list[float]], modulus: list[float]) -> None:
        """|Z| must agree with Z' and Z" to the 4 digits CHI writes: otherwise the columns are
        not what their names say (an edited or re-ordered export) and no number is trusted."""
        pairs = zip(values[c.Z_REAL_OHM], values[c.Z_IMAG_OHM], modulus, strict=True)
        for (number, _), (zr, zi, z) in zip(rows, pairs, strict=True):
            if not math.isclose(math.hypot(zr, zi), z, rel_tol=2e-3, abs_tol=1e-9):
                raise ParseError(
                    f"Z/ohm {z:g} does not match Z'/ohm {zr:g} and Z\"/ohm {zi:g} "
                    f"(|Z| = {math.hypot(zr, zi):.4g}): the columns are not what the header says",
                    line=number,
                )

    @staticmethod
    def _warnings(header: list[str]) -> list[str]:
        for line in header:
            if re.match(r"\s*Data Source:\s*(?!Experiment)\S", line):
                return [f"{line.strip()}: not a measured spectrum"]
        return []


PARSER = ChiImpedanceParser()
