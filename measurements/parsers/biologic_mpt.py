"""BioLogic EC-Lab / BT-Lab ASCII export (``.mpt``).

``Nb header lines : N`` on line 2 counts every line up to and including the tab-separated
column-name line; units are in the names. Exported on German or French Windows the numbers
have a decimal comma and the text (``µ``, ``°``) is cp1252; both are detected, not assumed.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

import polars as pl

from . import _biologic as bio
from ._common import (
    check_last_line,
    decode,
    ensure_rows,
    first_bad_number,
    first_empty_field,
    first_ragged_line,
    looks_binary,
    names_metadata,
)
from .base import ParsedData, ParseError, guard

_MAGIC = (b"EC-Lab ASCII FILE", b"BT-Lab ASCII FILE")
_NB_LINES = re.compile(rb"Nb header lines\s*:\s*(\d+)")
_MAX_HEADER_LINES = 10_000


@dataclass(frozen=True)
class _Header:
    n_lines: int  # the column-name line is line n_lines
    names: list[str]
    n_fields: int  # fields on the first data line (may include a trailing empty one)
    encoding: str
    decimal: str
    technique: str
    fields: dict[str, str]


def _read_header(path: pathlib.Path) -> _Header:
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head.strip():
        raise ParseError("empty file: no BioLogic data")
    if looks_binary(head) or not head.startswith(_MAGIC):
        raise ParseError("not a BioLogic .mpt file: it does not start with 'EC-Lab ASCII FILE'")
    match = _NB_LINES.search(head[:512])
    if match is None:
        raise ParseError("not a BioLogic .mpt file: missing 'Nb header lines'")
    n_lines = int(match.group(1))
    if not 2 <= n_lines <= _MAX_HEADER_LINES:
        raise ParseError(f"'Nb header lines : {n_lines}' is not a plausible header length")
    raw = _first_lines(path, n_lines + 1)
    if len(raw) <= n_lines:
        where = "header ends early" if len(raw) < n_lines else "header found but no data rows"
        raise ParseError(
            f"{where}: 'Nb header lines : {n_lines}' but the file has {len(raw)} lines"
        )
    text, encoding = decode(b"".join(raw))
    lines = text.splitlines()
    return _parse_header(lines, n_lines, encoding)


def _first_lines(path: pathlib.Path, count: int) -> list[bytes]:
    out = []
    with open(path, "rb") as fh:
        for line in fh:
            out.append(line)
            if len(out) == count:
                break
    return out


def _parse_header(lines: list[str], n_lines: int, encoding: str) -> _Header:
    names = [n.strip() for n in lines[n_lines - 1].split("\t")]
    while names and not names[-1]:
        names.pop()
    if len(names) < 2:
        raise ParseError("column-name line has fewer than 2 columns", line=n_lines)
    first = lines[n_lines].split("\t")
    decimal = _decimal(first)
    fields = {}
    for line in lines[1 : n_lines - 1]:
        key, sep, value = line.partition(" : ")
        if sep and key.strip() and len(key.strip()) < 60:
            fields[key.strip()] = value.strip()
    technique = lines[3].strip() if n_lines > 4 else ""
    return _Header(n_lines, names, len(first), encoding, decimal, technique, fields)


def _decimal(fields: list[str]) -> str:
    """',' when numbers are written ``1,0003201E+003`` (tab separated, so no ambiguity)."""
    tokens = [f.strip() for f in fields if f.strip()]
    if any("," in t for t in tokens) and not any("." in t for t in tokens):
        return ","
    return "."


def _col(i: int) -> str:
    return f"column_{i + 1}"


def _read_table(path: pathlib.Path, header: _Header) -> pl.DataFrame:
    n = max(len(header.names), header.n_fields)
    wanted = {i: name for i, name in enumerate(header.names) if name in bio.USEFUL}
    if not wanted:
        raise ParseError(
            "no recognised BioLogic columns (time/s, Ewe/V, freq/Hz, ...)", line=header.n_lines
        )
    schema = {_col(i): (pl.Float64 if i in wanted else pl.String) for i in range(n)}
    try:
        frame = pl.read_csv(
            path,
            has_header=False,
            separator="\t",
            skip_lines=header.n_lines,
            schema=schema,
            columns=[_col(i) for i in wanted],
            quote_char=None,
            encoding="utf8-lossy",
            decimal_comma=header.decimal == ",",
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        _diagnose(path, header, wanted)
        raise
    frame = frame.rename({_col(i): name for i, name in wanted.items()})
    return frame.filter(~pl.all_horizontal(pl.all().is_null()))


def _diagnose(path: pathlib.Path, header: _Header, wanted: dict[int, str]) -> None:
    start = header.n_lines + 1
    bad = first_ragged_line(
        path, start_line=start, expected=len(header.names), separator="\t", encoding=header.encoding
    )
    if bad is not None:
        raise ParseError(f"expected {len(header.names)} columns, found {bad[1]}", line=bad[0])
    error = first_bad_number(
        path,
        start_line=start,
        separator="\t",
        encoding=header.encoding,
        columns=wanted,
        decimal=header.decimal,
    )
    if error is not None:
        raise error


def _check_complete(path: pathlib.Path, header: _Header, frame: pl.DataFrame) -> None:
    """A short row is null-filled by polars; report it with its line number instead."""
    if any(frame.null_count().row(0)):
        _diagnose(path, header, {})
        columns = {i: n for i, n in enumerate(header.names) if n in frame.columns}
        error = first_empty_field(
            path,
            start_line=header.n_lines + 1,
            separator="\t",
            encoding=header.encoding,
            columns=columns,
        )
        raise error or ParseError("some data rows are incomplete")
    check_last_line(path, expected=len(header.names), separator="\t", encoding=header.encoding)


class BiologicMptParser:
    name = "biologic_mpt"
    label = "BioLogic EC-Lab ASCII (.mpt)"
    extensions = (".mpt",)
    accepted_options = bio.ACCEPTED_OPTIONS

    def sniff(self, head: bytes, filename: str) -> bool:
        return head.startswith(_MAGIC)

    @guard("BioLogic .mpt")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        header = _read_header(path)
        frame = _read_table(path, header)
        ensure_rows(frame, f"BioLogic .mpt (header of {header.n_lines} lines)")
        _check_complete(path, header, frame)
        mapped = bio.to_canonical(frame, options)
        ensure_rows(mapped.data, f"BioLogic .mpt read as {mapped.kind}")
        metadata = {
            "instrument": "BioLogic",
            "format": self.label,
            "technique": header.technique,
            "encoding": header.encoding,
            "decimal_separator": header.decimal,
            "header_lines": header.n_lines,
            "row_count": mapped.data.height,
            **_header_metadata(header.fields),
            **mapped.metadata,
            **names_metadata(header.names, mapped.used),
        }
        return ParsedData(mapped.kind, mapped.data, metadata, mapped.warnings)


def _header_metadata(fields: dict[str, str]) -> dict[str, str | float]:
    """The header fields worth keeping (masses, areas, device), as ``header:<name>``."""
    keep = (
        "Characteristic mass",
        "Mass of active material",
        "Electrode surface area",
        "Device",
        "Run on channel",
        "Acquisition started on",
        "Cycle Definition",
    )
    out: dict[str, str | float] = {}
    for key in keep:
        if key in fields:
            out[f"header:{key}"] = fields[key]
    masses = (
        ("Mass of active material", "active_mass_mg"),
        ("Characteristic mass", "characteristic_mass_mg"),
    )
    for key, name in masses:
        mass = re.match(r"([\d.,]+)\s*(mg|g)\b", fields.get(key, ""))
        if mass:
            value = float(mass.group(1).replace(",", "."))
            out[name] = value * (1000.0 if mass.group(2) == "g" else 1.0)
    return out


PARSER = BiologicMptParser()
