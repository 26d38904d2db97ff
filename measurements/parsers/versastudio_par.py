"""Princeton Applied Research VersaStudio ``.par`` files (VersaSTAT / PARSTAT EIS).

An INI-like text in XML-style blocks: ``<Application>``, ``<Instrument>``, ``<Action1>`` (the
technique's settings, ``Name=Potentiostatic EIS``) ..., and one ``<SegmentN>`` block per
recorded segment: ``Type=``, ``Version=``, ``Definition=`` (the comma-separated column names,
``Segment #, Point #, E(V), I(A), ..., Frequency(Hz), ..., Z Real, Z Imag, ..., AC Amplitude, 0``:
the trailing ``0`` is no column of the rows and is dropped), then one
comma-separated row per point until ``</SegmentN>``. Columns are found by name, not position.
``Z Imag`` keeps its sign (negative when capacitive; VersaStudio negates the axis to plot
-Zim), which is the canonical convention, so it is kept as is.
"""

from __future__ import annotations

import math
import pathlib
import re

from measurements import canonical as c

from . import _spectra
from ._common import (
    ensure_rows,
    frame_from_values,
    is_number,
    looks_binary,
    numeric_rows,
    require_text,
)
from .base import Doubt, ParsedData, ParseError, guard

_WANTED = {c.FREQUENCY_HZ: "Frequency(Hz)", c.Z_REAL_OHM: "Z Real", c.Z_IMAG_OHM: "Z Imag"}
_OPEN = re.compile(r"^<(Segment\d+)>\s*$")
_HEADER_KEYS = {
    "Application": ("Name", "Version"),
    "Instrument": ("Type", "Model", "SN"),
    "Experiment": ("DateAcquired", "TimeAcquired"),
}
_ACTION_KEYS = (
    "Name",
    "Start Frequency (Hz)",
    "End Frequency (Hz)",
    "Amplitude (mV RMS)",
    "Measured Open Circuit",
    "Working Electrode Area (cm2)",
)


def _blocks(lines: list[str]) -> dict[str, dict[str, str]]:
    """key=value pairs of each non-segment block, by block name (first occurrence)."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in lines:
        text = line.strip()
        match = re.fullmatch(r"<(/?)([A-Za-z]+\d*)>", text)
        if match:
            closing, name = match.groups()
            current = None if closing or name.startswith("Segment") else out.setdefault(name, {})
            continue
        if current is not None and "=" in text:
            key, _, value = text.partition("=")
            current.setdefault(key.strip(), value.strip())
    return out


def _segments(lines: list[str]) -> list[tuple[str, int, list[str], list[tuple[int, str]]]]:
    """(name, 1-based line of its opening tag, column names, numbered data rows) per segment."""
    out = []
    index = 0
    while index < len(lines):
        match = _OPEN.match(lines[index].strip())
        if not match:
            index += 1
            continue
        name, start = match.group(1), index
        names: list[str] = []
        rows: list[tuple[int, str]] = []
        index += 1
        while index < len(lines) and lines[index].strip() != f"</{name}>":
            text = lines[index].strip()
            if text.startswith("Definition="):
                names = [n.strip() for n in text.partition("=")[2].split(",")]
                while names and (not names[-1] or is_number(names[-1])):
                    names.pop()  # the line ends with ", 0", which is no column of the rows
            elif text and names and "=" not in text:
                rows.append((index + 1, lines[index]))
            index += 1
        if index >= len(lines):
            raise ParseError(
                f"{name} has no closing </{name}> line: the file is cut short (incomplete "
                "upload or copy?); upload the complete .par file",
                line=start + 1,
            )
        out.append((name, start + 1, names, rows))
        index += 1
    return out


def _warnings(metadata: dict, spectrum: _spectra.Spectrum) -> list[str]:
    planned = metadata.get("header:End Frequency (Hz)", "")
    last = spectrum.frequency_hz[-1]
    try:
        end = float(planned)
    except ValueError:
        return []
    if end > 0 and last > 0 and abs(math.log10(last / end)) > 0.1:
        return [
            Doubt(
                f"the sweep ends at {last:g} Hz, the method's end frequency is {end:g} Hz "
                "(sweep stopped early?)"
            )
        ]
    return []


class VersaStudioParser:
    name = "versastudio_par"
    label = "VersaStudio impedance (.par)"
    extensions = (".par",)
    accepted_options = _spectra.ACCEPTED_OPTIONS

    def sniff(self, head: bytes, filename: str) -> bool:
        if looks_binary(head):
            return False
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return start.startswith(b"<Application>") and b"Name=VersaStudio" in head[:1024]

    @guard("VersaStudio .par")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        text, encoding = require_text(path, "VersaStudio")
        lines = text.splitlines()
        if not any(line.strip() == "<Application>" for line in lines[:5]):
            raise ParseError("not a VersaStudio .par file: no <Application> block at the top")
        segments = _segments(lines)
        if not segments:
            raise ParseError("VersaStudio file has no <Segment> data block (no data recorded?)")
        impedance = [s for s in segments if all(v in s[2] for v in _WANTED.values())]
        if not impedance:
            found = ", ".join(f"{name} (line {line})" for name, line, _, _ in segments)
            raise ParseError(
                "VersaStudio file holds no impedance data: no segment has the columns "
                f"'Frequency(Hz)', 'Z Real' and 'Z Imag' (segments: {found})"
            )
        spectra, read = [], []
        for name, line, names, rows in impedance:
            if not rows:
                raise ParseError(f"{name}: header found but no data rows", line=line)
            indices = {canon: names.index(src) for canon, src in _WANTED.items()}
            values = numeric_rows(rows, separator=",", decimal=".", names=names, indices=indices)
            spectra.append(
                _spectra.Spectrum(
                    f"{name} (line {line})",
                    values[c.FREQUENCY_HZ],
                    values[c.Z_REAL_OHM],
                    values[c.Z_IMAG_OHM],
                )
            )
            read.append(names)
        spectrum, number = _spectra.choose(spectra, options, "this VersaStudio file")
        data = frame_from_values(
            "eis",
            {
                c.FREQUENCY_HZ: spectrum.frequency_hz,
                c.Z_REAL_OHM: spectrum.z_real_ohm,
                c.Z_IMAG_OHM: spectrum.z_imag_ohm,
            },
        )
        ensure_rows(data, "VersaStudio segment")
        metadata = self._metadata(lines, encoding, spectrum, read[number - 1])
        return ParsedData("eis", data, metadata, _warnings(metadata, spectrum))

    def _metadata(self, lines: list[str], encoding: str, spectrum, names: list[str]) -> dict:
        blocks = _blocks(lines)
        meta: dict = {
            "instrument": "Princeton Applied Research (VersaStudio)",
            "format": self.label,
            "encoding": encoding,
            "decimal_separator": ".",
            "row_count": len(spectrum.frequency_hz),
            "spectrum": spectrum.label,
            "original_columns": "; ".join(names),
            **{f"column:{k}": v for k, v in _WANTED.items()},
        }
        for block, keys in _HEADER_KEYS.items():
            for key in keys:
                if blocks.get(block, {}).get(key):
                    meta[f"header:{block}.{key}"] = blocks[block][key]
        action = next(
            (b for n, b in blocks.items() if n.startswith("Action") and n != "Action0"), {}
        )
        common = blocks.get("Action0", {})
        for key in _ACTION_KEYS:
            value = action.get(key) or common.get(key)
            if value:
                meta[f"header:{key}"] = value
        return meta


PARSER = VersaStudioParser()
