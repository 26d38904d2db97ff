"""Thermogravimetry text exports: Mettler-Toledo STARe and TA Instruments TRIOS style.

STARe (``Curve Values:`` block): whitespace-aligned columns ``Index t Ts Tr Value`` with a
units row ``[s] [°C] [°C] [mg]`` (cp1252 on Windows), the sample mass in the footer.
TRIOS style: a few ``key<tab>value`` lines, then a header with units in parentheses
(``Time (min)  Temperature (°C)  Weight (mg)  Weight (%)``) or in a second row.

Canonical output: time_s, temperature_C (sample temperature), mass_mg (null when only % is
exported) and mass_pct (as exported, else relative to the first point).
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

import polars as pl

from measurements import canonical as c

from ._common import (
    ensure_rows,
    finish,
    guess_decimal,
    guess_separator,
    is_number,
    looks_binary,
    numeric_rows,
    require_text,
    split_fields,
)
from .base import ParsedData, ParseError, guard

_TIME_SCALE = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}


@dataclass
class _Table:
    names: list[str]
    units: list[str]  # one per name, "" when none
    rows: list[tuple[int, str]]
    separator: str | None
    metadata: dict[str, str | float]


def _pick(table: _Table, patterns: tuple[str, ...], units: tuple[str, ...]) -> int | None:
    for pattern in patterns:
        for i, (name, unit) in enumerate(zip(table.names, table.units, strict=True)):
            if re.fullmatch(pattern, name, re.IGNORECASE) and unit.lower() in units:
                return i
    return None


def _to_canonical(table: _Table) -> tuple[pl.DataFrame, dict[str, str], list[str]]:
    time = _pick(table, (r"t", r"time"), tuple(_TIME_SCALE))
    temp = _pick(table, (r"ts", r"temperature", r"sample temperature", r"tr"), ("°c", "c"))
    mass = _pick(table, (r"value", r"weight", r"mass"), ("mg",))
    pct = _pick(table, (r"value", r"weight", r"mass"), ("%",))
    if time is None:
        raise ParseError("column 'time' (s or min) missing from the TGA table")
    if temp is None:
        raise ParseError("column 'temperature' (°C) missing from the TGA table")
    if mass is None and pct is None:
        raise ParseError("column 'weight' (mg or %) missing from the TGA table")
    wanted = {k: v for k, v in (("t", time), ("T", temp), ("m", mass), ("p", pct)) if v is not None}
    sample = split_fields(table.rows[0][1], table.separator)
    decimal = guess_decimal(sample, table.separator)
    values = numeric_rows(
        table.rows, separator=table.separator, decimal=decimal, names=table.names, indices=wanted
    )
    raw = pl.DataFrame({k: pl.Series(v, dtype=pl.Float64) for k, v in values.items()})
    exprs = {
        c.TIME_S: pl.col("t") * _TIME_SCALE[table.units[time].lower()],
        c.TEMPERATURE_C: pl.col("T"),
    }
    if mass is not None:
        exprs[c.MASS_MG] = pl.col("m")
    exprs[c.MASS_PCT] = (
        pl.col("p") if pct is not None else pl.col("m") / pl.col("m").first() * 100.0
    )
    used = {c.TIME_S: table.names[time], c.TEMPERATURE_C: table.names[temp]}
    if mass is not None:
        used[c.MASS_MG] = f"{table.names[mass]} [mg]"
    used[c.MASS_PCT] = f"{table.names[pct]} [%]" if pct is not None else "mass / first mass * 100"
    warnings = [] if decimal == "." else ["numbers use a decimal comma"]
    return finish("tga", exprs, raw), used, warnings


def _result(label: str, table: _Table, encoding: str, instrument: str) -> ParsedData:
    if not table.rows:
        raise ParseError(f"{label}: header found but no data rows")
    data, used, warnings = _to_canonical(table)
    ensure_rows(data, label)
    metadata = {
        "instrument": instrument,
        "format": label,
        "encoding": encoding,
        "row_count": data.height,
        "original_columns": "; ".join(
            f"{n} [{u}]" if u else n for n, u in zip(table.names, table.units, strict=True)
        ),
        **{f"column:{k}": v for k, v in used.items()},
        **table.metadata,
    }
    return ParsedData("tga", data, metadata, warnings)


# --- Mettler-Toledo STARe -------------------------------------------------------------


def _stare_table(lines: list[str]) -> _Table:
    start = next((i for i, x in enumerate(lines) if x.strip() == "Curve Values:"), None)
    if start is None:
        raise ParseError("not a STARe export: no 'Curve Values:' line")
    if start + 2 >= len(lines):
        raise ParseError("STARe export: header found but no data rows", line=start + 1)
    names = lines[start + 1].split()
    units = [u.strip("[]") for u in lines[start + 2].split()]
    if not names or len(units) > len(names):
        raise ParseError("STARe column names and units do not match", line=start + 3)
    units = [""] * (len(names) - len(units)) + units  # Index has no unit: align from the right
    rows = []
    for index in range(start + 3, len(lines)):
        if not lines[index].strip():
            break  # the table ends at the first blank line; results follow
        rows.append((index + 1, lines[index]))
    return _Table(names, units, rows, None, _stare_metadata(lines))


def _stare_metadata(lines: list[str]) -> dict[str, str | float]:
    out: dict[str, str | float] = {}
    for index, line in enumerate(lines):
        if line.strip() == "Sample:" and index + 1 < len(lines):
            match = re.search(r"^\s*(.*?),\s*([\d.,]+)\s*mg\s*$", lines[index + 1])
            if match:
                out["sample_name"] = match.group(1)
                out["sample_mass_mg"] = float(match.group(2).replace(",", "."))
        elif line.strip() == "Curve Name:" and index + 1 < len(lines):
            out["curve_name"] = lines[index + 1].strip()
    tail = lines[-1].strip() if lines else ""
    if "STARe" in tail:
        out["software"] = tail[tail.index("STARe") :]
    return out


class StareTgaParser:
    name = "tga_stare"
    label = "Mettler-Toledo STARe TGA export"
    extensions = (".txt",)

    def sniff(self, head: bytes, filename: str) -> bool:
        return not looks_binary(head) and b"Curve Values:" in head

    @guard("STARe TGA")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        text, encoding = require_text(path, "STARe TGA")
        table = _stare_table(text.splitlines())
        return _result(self.label, table, encoding, "Mettler-Toledo TGA")


# --- TA Instruments TRIOS style ---------------------------------------------------------

_UNIT_IN_NAME = re.compile(r"^(.*?)\s*\((.+)\)\s*$")


def _is_ta_header(line: str) -> bool:
    low = line.lower()
    return "temperature" in low and ("weight" in low or "mass" in low) and "time" in low


def _split_names(line: str, sep: str | None) -> tuple[list[str], list[str]]:
    names, units = [], []
    for cell in split_fields(line, sep):
        match = _UNIT_IN_NAME.match(cell)
        names.append(match.group(1).strip() if match else cell.strip())
        units.append(match.group(2).strip() if match else "")
    return names, units


def _ta_table(lines: list[str]) -> _Table:
    start = next((i for i, x in enumerate(lines[:200]) if _is_ta_header(x)), None)
    if start is None:
        raise ParseError("not a TA TGA export: no header with Time, Temperature and Weight")
    body = [x for x in lines[start + 1 : start + 21] if x.strip()]
    sep = guess_separator([lines[start], *body]) or ("\t" if "\t" in lines[start] else None)
    names, units = _split_names(lines[start], sep)
    first = start + 1
    if first < len(lines) and not all(units):
        cells = split_fields(lines[first], sep)
        if cells and not any(is_number(x) for x in cells if x):
            units = [
                u or x.strip("()[]") for u, x in zip(units, cells + [""] * len(units), strict=False)
            ]
            first += 1  # TRIOS puts units on their own row
    rows = [(i + 1, lines[i]) for i in range(first, len(lines)) if lines[i].strip()]
    return _Table(names, units, rows, sep, _ta_metadata(lines[:start]))


def _ta_metadata(lines: list[str]) -> dict[str, str | float]:
    out: dict[str, str | float] = {}
    for line in lines:
        key, _, value = line.partition("\t")
        key, value = key.strip(), value.strip()
        if not key or not value:
            continue
        out[f"header:{key}"] = value
        mass = re.fullmatch(r"([\d.,]+)\s*mg", value)
        if mass and re.search(r"size|sample (mass|weight)", key, re.IGNORECASE):
            out["sample_mass_mg"] = float(mass.group(1).replace(",", "."))
    return out


class TaTgaParser:
    name = "tga_trios"
    label = "TA Instruments TRIOS TGA export"
    extensions = (".txt", ".csv")

    def sniff(self, head: bytes, filename: str) -> bool:
        if looks_binary(head):
            return False
        lines = head.decode("latin-1").splitlines()[:200]
        return any(_is_ta_header(x) for x in lines)

    @guard("TA TGA")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        text, encoding = require_text(path, "TA TGA")
        table = _ta_table(text.splitlines())
        return _result(self.label, table, encoding, "TA Instruments TGA")


STARE_PARSER = StareTgaParser()
TA_PARSER = TaTgaParser()
