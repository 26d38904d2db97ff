"""PalmSens PSTrace / MultiTrace ``.pssession`` files (impedance spectra).

A session is one JSON document written as UTF-16 (little-endian, with a byte-order mark) and
followed by a stray byte-order mark after the closing brace. Key names are capitalised by
recent PSTrace versions (``"Measurements"``) and lower-case by older ones (``"measurements"``),
so keys are matched without regard to case. Each measurement (CV, DPV, EIS, ...) has a
``DataSet``; an impedance data set (``PalmSens.Data.DataSetEIS``) holds arrays identified by
``ArrayType``: 5 frequency (Hz), 7 ZRe (ohm), 8 ZIm (ohm), each value in ``{"V": ...}``.

Sign: PalmSens' ZIm is -Z'' (PalmSens.Core documents ``EISValueType.ZIm`` as "-Z'' values",
and its phase is positive for a capacitive cell), so the parser negates it to the canonical
convention (negative for capacitive behaviour).

A session with several impedance spectra (several EIS measurements, repeated scans, scans at
several DC potentials) is read once the option ``spectrum`` says which; a multichannel session
(MultiPalmSens) is refused, because its main data set does not say which channel it holds.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

from measurements import canonical as c

from . import _spectra
from ._common import ensure_rows, frame_from_values
from .base import ParsedData, ParseError, guard, is_finite_number

_BOM = b"\xff\xfe"
_SIGNATURE = re.compile(r'"type"\s*:\s*"palmsens\.datafiles\.sessionfile"')
_FREQUENCY, _ZRE, _ZIM = 5, 7, 8
_UNITS = {
    _FREQUENCY: "palmsens.units.hertz",
    _ZRE: "palmsens.units.zre",
    _ZIM: "palmsens.units.zim",
}
_NAMES = {_FREQUENCY: "Frequency", _ZRE: "ZRe", _ZIM: "ZIm"}


def _lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def _load(data: bytes) -> dict:
    if not data.strip():
        raise ParseError("empty file: no PalmSens session data")
    if not data.startswith(_BOM):
        raise ParseError(
            "not a PalmSens .pssession file: it does not start with the UTF-16 byte-order mark "
            "PSTrace writes"
        )
    try:
        text = data.decode("utf-16")
    except UnicodeDecodeError:
        raise ParseError(
            "PalmSens session is not valid UTF-16 text (file damaged or cut short?)"
        ) from None
    text = text.rstrip("\ufeff\x00 \t\r\n")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"PalmSens session is not valid JSON at character {exc.pos} ({exc.msg}); the file "
            "is damaged or cut short: save the session again in PSTrace and upload that"
        ) from None
    if not isinstance(document, dict):
        raise ParseError("PalmSens session: the JSON document is not an object")
    return _lower_keys(document)


def _array(values: list, array_type: int, where: str) -> list[float] | None:
    for entry in values:
        if not isinstance(entry, dict) or entry.get("arraytype") != array_type:
            continue
        unit = entry.get("unit") or {}
        unit_type = str(unit.get("type", "")).lower() if isinstance(unit, dict) else ""
        if unit_type != _UNITS[array_type]:
            raise ParseError(
                f"{where}: {_NAMES[array_type]} is in unit {unit_type or 'unknown'!r}, expected "
                f"{_UNITS[array_type]!r}; export the data in base units"
            )
        out = []
        for index, point in enumerate(entry.get("datavalues") or [], start=1):
            value = point.get("v") if isinstance(point, dict) else None
            if not is_finite_number(value):
                raise ParseError(
                    f"{where}: {_NAMES[array_type]} value {index} is {value!r}, not a number"
                )
            out.append(float(value))
        return out
    return None


def _spectra_of(document: dict) -> list[_spectra.Spectrum]:
    measurements = document.get("measurements")
    if not isinstance(measurements, list):
        raise ParseError("PalmSens session has no measurement list")
    spectra = []
    for number, measurement in enumerate(measurements, start=1):
        if not isinstance(measurement, dict):
            continue
        title = str(measurement.get("title") or f"measurement {number}")
        dataset = measurement.get("dataset")
        values = dataset.get("values") if isinstance(dataset, dict) else None
        if not isinstance(values, list):
            continue
        where = f"measurement {number} '{title}'"
        freq = _array(values, _FREQUENCY, where)
        if freq is None:
            continue  # CV, DPV, chronoamperometry ...
        zre, zim = _array(values, _ZRE, where), _array(values, _ZIM, where)
        if zre is None or zim is None:
            raise ParseError(f"{where}: has frequencies but no ZRe/ZIm arrays")
        if not len(freq) == len(zre) == len(zim):
            raise ParseError(
                f"{where}: arrays of different lengths (frequency {len(freq)}, ZRe {len(zre)}, "
                f"ZIm {len(zim)}); the file is damaged"
            )
        channels = [
            str(e.get("title", ""))
            for e in measurement.get("eisdatalist") or []
            if isinstance(e, dict)
        ]
        if len(channels) > 1:
            raise ParseError(
                f"{where} is a multichannel recording ({len(channels)} curves: "
                f"{', '.join(channels[:8])}); its data cannot be attributed to one channel here: "
                "save each channel's spectrum as its own session in PSTrace/MultiTrace and "
                "upload those"
            )
        if len(freq) > 1 and len(set(freq)) == 1:
            raise ParseError(
                f"{where}: every point is at {freq[0]:g} Hz (impedance at a fixed frequency over "
                "time or potential), not a spectrum"
            )
        sweeps = _spectra.split_sweeps(freq)
        for k, (start, stop) in enumerate(sweeps, start=1):
            label = f"'{title}'" + (f" scan {k}" if len(sweeps) > 1 else "")
            spectra.append(
                _spectra.Spectrum(
                    label,
                    freq[start:stop],
                    zre[start:stop],
                    [-z for z in zim[start:stop]],  # -Z'' -> Z''
                )
            )
    return spectra


class PalmSensSessionParser:
    name = "palmsens_pssession"
    label = "PalmSens session (.pssession)"
    extensions = (".pssession",)
    accepted_options = _spectra.ACCEPTED_OPTIONS

    def sniff(self, head: bytes, filename: str) -> bool:
        if not head.startswith(_BOM):
            return False
        even = head[: len(head) // 2 * 2]
        text = even.decode("utf-16-le", errors="replace").lower()
        return bool(_SIGNATURE.search(text[:400]))

    @guard("PalmSens .pssession")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        document = _load(path.read_bytes())
        kind = str(document.get("type", ""))
        if kind.lower() != "palmsens.datafiles.sessionfile":
            raise ParseError(f"not a PalmSens session file (document type {kind[:60]!r})")
        spectra = _spectra_of(document)
        if not spectra:
            raise ParseError(
                "PalmSens session holds no impedance spectrum (no measurement with frequency, "
                "ZRe and ZIm data: CV, DPV or other techniques only?)"
            )
        spectrum, _ = _spectra.choose(spectra, options, "this PalmSens session")
        data = frame_from_values(
            "eis",
            {
                c.FREQUENCY_HZ: spectrum.frequency_hz,
                c.Z_REAL_OHM: spectrum.z_real_ohm,
                c.Z_IMAG_OHM: spectrum.z_imag_ohm,
            },
        )
        ensure_rows(data, "PalmSens impedance data set")
        metadata = {
            "instrument": "PalmSens",
            "format": self.label,
            "encoding": "utf-16",
            "row_count": data.height,
            "spectrum": spectrum.label,
            "header:CoreVersion": str(document.get("coreversion", "")),
            "original_columns": "Frequency (Hz); ZRe (ohm); ZIm (ohm, -Z'')",
            f"column:{c.FREQUENCY_HZ}": "Frequency",
            f"column:{c.Z_REAL_OHM}": "ZRe",
            f"column:{c.Z_IMAG_OHM}": "-ZIm",
        }
        return ParsedData("eis", data, metadata, [])


PARSER = PalmSensSessionParser()
