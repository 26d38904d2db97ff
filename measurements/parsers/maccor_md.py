"""Maccor text exports with the ``Rec  Cycle P  Cycle C  Step  TestTime ... Md`` header.

A second text layout of Maccor's MIMS/Data Analysis exports (cellpy calls it "maccor_txt
two"; KIT's SIMBA project wrote it), distinct from the ``Rec#  Cyc#  ...  State`` layout read
by ``maccor``:

- a preamble of ``Key<tab>value`` lines (``Name:``, ``Channel:``, ``Tester``, ``Procedure``,
  ``Started``, ``SCap``, ``C Rate``, charge/discharge limits), about a dozen, then a blank line;
- the header ``Rec  Cycle P  Cycle C  Step  TestTime  StepTime  Cap. [Ah]  Ener. [Wh]
  Current [A]  Voltage [V]  Md  ES  DPT Time  VAR1 ...`` followed by a blank line;
- ``TestTime`` and ``StepTime`` in minutes (checked against the ``DPT Time`` clock);
- ``Cycle C`` counts charge/discharge cycles, ``Cycle P`` the procedure's loop; the cycle is
  ``Cycle C``;
- current unsigned with the mode letter ``Md`` (C charge, D discharge, R rest, O other),
  capacity and energy counters reset at every step (as in the other layout);
- a decimal comma on European installs (cellpy's maccor_two), a point elsewhere (maccor_002);
  stray non-UTF-8 bytes in the preamble (0xFF padding after the description).
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

import polars as pl

from measurements import canonical as c

from . import maccor
from ._common import (
    check_last_line,
    decode,
    ensure_rows,
    finish,
    first_bad_number,
    first_empty_field,
    first_ragged_line,
    iter_lines,
    looks_binary,
    names_metadata,
)
from .base import ParsedData, ParseError, guard

_CYCLE = ("Cycle C", "Cycle P")
_TIME = ("TestTime", "Test Time", "TestTime (min)", "Test Time (min)")
_UNIT = re.compile(r"^(?P<name>.+?)\s*\[(?P<milli>m?)(?P<unit>Ah|Wh|A|V)\]$")
_CLOCK_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S")


def _header_fields(line: str) -> list[str] | None:
    fields = [f.strip() for f in line.split("\t")]
    if (
        len(fields) > 5
        and fields[0] == "Rec"
        and "Md" in fields
        and any(name in fields for name in _CYCLE)
    ):
        while fields and not fields[-1]:
            fields.pop()
        return fields
    return None


def _preamble(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        cells = [x.strip() for x in line.split("\t")]
        if len(cells) >= 2 and cells[0] and cells[1]:
            key = cells[0].rstrip(":").strip()
            # 0xFF padding after a description decodes as 'ÿ'; it is not part of the text.
            value = "".join(ch for ch in cells[1] if ch.isprintable())
            out[f"preamble:{key}"] = value.rstrip("ÿ\ufffd ").strip()
    return out


def _layout(path: pathlib.Path) -> maccor.Layout:
    lines, encoding = maccor.head_lines(path)
    for number, line in enumerate(lines[:200], start=1):
        fields = _header_fields(line)
        if fields is not None:
            return maccor.Layout(
                path, number, fields, "\t", encoding, _preamble(lines[: number - 1])
            )
    raise ParseError(
        "not a Maccor text export: no header line starting with 'Rec' (with Cycle C, Md)"
    )


@dataclass(frozen=True)
class _Columns:
    cycle: int
    step: int
    time: int
    current: int
    voltage: int
    mode: int
    capacity: int | None
    energy: int | None
    scale: dict[str, float]  # column name -> factor to mA, mAh, mWh, V


def _unit_column(layout: maccor.Layout, name: str, unit: str) -> tuple[int | None, float]:
    """Index of ``<name> [unit]`` or ``<name> [m<unit>]`` and its factor to milli-units
    (volts stay volts)."""
    for index, field in enumerate(layout.names):
        match = _UNIT.match(field)
        if match and match["name"] == name and match["unit"] == unit:
            milli = bool(match["milli"])
            if unit == "V":
                return index, 1e-3 if milli else 1.0
            return index, 1.0 if milli else 1000.0
    return None, 1.0


def _columns(layout: maccor.Layout) -> _Columns:
    def need(label: str, found: int | None) -> int:
        if found is None:
            raise ParseError(
                f"column '{label}' missing from the Maccor header (line {layout.header_line})"
            )
        return found

    current, i_scale = _unit_column(layout, "Current", "A")
    voltage, v_scale = _unit_column(layout, "Voltage", "V")
    capacity, q_scale = _unit_column(layout, "Cap.", "Ah")
    energy, e_scale = _unit_column(layout, "Ener.", "Wh")
    return _Columns(
        cycle=need("Cycle C", layout.index(*_CYCLE)),
        step=need("Step", layout.index("Step")),
        time=need("TestTime", layout.index(*_TIME)),
        current=need("Current [A]", current),
        voltage=need("Voltage [V]", voltage),
        mode=need("Md", layout.index("Md")),
        capacity=capacity,
        energy=energy,
        scale={"current": i_scale, "voltage": v_scale, "capacity": q_scale, "energy": e_scale},
    )


def _col(index: int) -> str:
    return f"column_{index + 1}"


def _first_data_line(layout: maccor.Layout) -> tuple[int, list[str]]:
    """(1-based number, fields) of the first data line: a blank line follows the header."""
    for number, line in iter_lines(layout.path, layout.encoding):
        if number > layout.header_line and line.strip():
            return number, line.split("\t")
    return layout.header_line + 1, []


def _decimal_comma(layout: maccor.Layout, cols: _Columns, first: list[str]) -> bool:
    """``0,1377`` on European installs; decided from the first data line's voltage."""
    if cols.voltage >= len(first):
        return False
    value = first[cols.voltage].strip()
    return "," in value and "." not in value


def _read(
    layout: maccor.Layout, cols: _Columns, decimal_comma: bool, first: tuple[int, list[str]], clock
) -> pl.DataFrame:
    first_line, first_fields = first
    wanted: dict[int, pl.DataType] = {
        cols.cycle: pl.Int64,
        cols.step: pl.Int64,
        cols.time: pl.Float64,
        cols.current: pl.Float64,
        cols.voltage: pl.Float64,
        cols.mode: pl.String,
    }
    for optional in (cols.capacity, cols.energy):
        if optional is not None:
            wanted[optional] = pl.Float64
    if clock is not None:
        wanted[clock] = pl.String
    n_columns = max(len(layout.names), len(first_fields))
    schema = {_col(i): wanted.get(i, pl.String) for i in range(n_columns)}
    try:
        frame = pl.read_csv(
            layout.path,
            has_header=False,
            separator="\t",
            skip_lines=first_line - 1,
            schema=schema,
            columns=[_col(i) for i in sorted(wanted)],
            quote_char=None,
            encoding="utf8-lossy",
            decimal_comma=decimal_comma,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        numeric = {i: layout.names[i] for i, t in wanted.items() if t != pl.String}
        _diagnose(layout, numeric, decimal_comma)
        raise
    # The blank line after the header (and any other) comes through as an all-null row.
    return frame.filter(~pl.all_horizontal(pl.all().is_null()))


def _diagnose(layout: maccor.Layout, numeric: dict[int, str], decimal_comma: bool) -> None:
    start = layout.header_line + 1
    bad = first_ragged_line(
        layout.path,
        start_line=start,
        expected=len(layout.names),
        separator="\t",
        encoding=layout.encoding,
    )
    if bad is not None:
        raise ParseError(f"expected {len(layout.names)} columns, found {bad[1]}", line=bad[0])
    error = first_bad_number(
        layout.path,
        start_line=start,
        separator="\t",
        encoding=layout.encoding,
        columns=numeric,
        decimal="," if decimal_comma else ".",
    )
    if error is not None:
        raise error


def _check_complete(
    layout: maccor.Layout, cols: _Columns, frame: pl.DataFrame, decimal_comma: bool
):
    required = [cols.cycle, cols.step, cols.time, cols.current, cols.voltage, cols.mode]
    if any(frame.get_column(_col(i)).null_count() for i in required):
        _diagnose(layout, {}, decimal_comma)
        error = first_empty_field(
            layout.path,
            start_line=layout.header_line + 1,
            separator="\t",
            encoding=layout.encoding,
            columns={i: layout.names[i] for i in required},
        )
        if error is not None:
            raise error
        raise ParseError(
            "some rows lack a required value (Cycle C, Step, TestTime, Current, Voltage, Md)"
        )


def _clock_seconds(frame: pl.DataFrame, clock: str) -> pl.Series | None:
    """The ``DPT Time`` wall clock as seconds, in the first format that reads every value."""
    values = frame.get_column(clock).str.strip_chars()
    for fmt in _CLOCK_FORMATS:
        parsed = values.str.to_datetime(fmt, strict=False)
        if parsed.null_count() == 0:
            return parsed.dt.epoch("ms") / 1000.0
    return None


def _time_factor(frame: pl.DataFrame, layout: maccor.Layout, cols: _Columns, clock: int | None):
    """(seconds per TestTime unit, how it was decided).

    This layout writes minutes. The wall clock (``DPT Time``, whole seconds) confirms it: the
    median of clock seconds per TestTime unit over rows at least a minute apart is ~60 for
    minutes, ~1 for seconds. Day/month order does not matter for intervals within a day.
    """
    if clock is None:
        return 60.0, "minutes (layout default; no DPT Time column to check against)"
    seconds = _clock_seconds(frame, _col(clock))
    if seconds is None:
        return 60.0, "minutes (layout default; DPT Time not readable as a date)"
    test_time = frame.get_column(_col(cols.time))
    d_clock, d_test = seconds.diff(), test_time.diff()
    mask = (d_clock >= 60) & (d_clock < 86400) & (d_test > 0)
    if mask.sum() < 3:
        return 60.0, "minutes (layout default; too few DPT Time intervals to check)"
    ratio = (d_clock.filter(mask) / d_test.filter(mask)).median()
    if 55.0 <= ratio <= 65.0:
        return 60.0, "minutes (checked against DPT Time)"
    if 0.9 <= ratio <= 1.1:
        return 1.0, "seconds (checked against DPT Time)"
    raise ParseError(
        f"column '{layout.names[cols.time]}': its unit is neither minutes nor seconds by the "
        f"DPT Time clock ({ratio:.3g} clock seconds per unit)"
    )


class MaccorMdParser:
    name = "maccor_md"
    label = "Maccor text export (Cycle P/Cycle C, Md)"
    extensions = (".txt", ".csv")

    def sniff(self, head: bytes, filename: str) -> bool:
        if looks_binary(head):
            return False
        text, _ = decode(head)
        return any(_header_fields(line) is not None for line in text.splitlines()[:200])

    @guard("Maccor")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        layout = _layout(path)
        cols = _columns(layout)
        clock = layout.index("DPT Time")
        first = _first_data_line(layout)
        decimal_comma = _decimal_comma(layout, cols, first[1])
        frame = _read(layout, cols, decimal_comma, first, clock)
        ensure_rows(frame, f"Maccor export (header at line {layout.header_line})")
        check_last_line(path, expected=len(layout.names), separator="\t", encoding="latin-1")
        _check_complete(layout, cols, frame, decimal_comma)
        factor, time_unit = _time_factor(frame, layout, cols, clock)
        mode = pl.col(_col(cols.mode)).str.strip_chars()
        scale = cols.scale
        exprs = {
            c.TIME_S: pl.col(_col(cols.time)) * factor,
            c.VOLTAGE_V: pl.col(_col(cols.voltage)) * scale["voltage"],
            c.CURRENT_MA: maccor._signed_current(
                pl.col(_col(cols.current)) * scale["current"], mode
            ),
            c.CYCLE: pl.col(_col(cols.cycle)),
            c.STEP: pl.col(_col(cols.step)),
        }
        sources = {
            c.TIME_S: cols.time,
            c.VOLTAGE_V: cols.voltage,
            c.CURRENT_MA: cols.current,
            c.CYCLE: cols.cycle,
            c.STEP: cols.step,
            c.STEP_CAPACITY_MAH: cols.capacity,
            c.STEP_ENERGY_MWH: cols.energy,
        }
        for name, key in ((c.STEP_CAPACITY_MAH, "capacity"), (c.STEP_ENERGY_MWH, "energy")):
            if sources[name] is not None:
                exprs[name] = pl.col(_col(sources[name])).abs() * scale[key]
        data = finish("cycling", exprs, frame)
        used = {name: layout.names[i] for name, i in sources.items() if i is not None}
        metadata = {
            "instrument": "Maccor",
            "format": self.label,
            "time_unit": time_unit,
            "encoding": layout.encoding,
            "decimal_separator": "," if decimal_comma else ".",
            "header_line": layout.header_line,
            "row_count": data.height,
            "cycle_count": data.get_column(c.CYCLE).n_unique(),
            "cycle_source": layout.names[cols.cycle],
            **names_metadata(layout.names, used),
            **layout.preamble,
        }
        warnings = maccor._state_warnings(frame, _col(cols.mode))
        return ParsedData("cycling", data, metadata, warnings)


PARSER = MaccorMdParser()
