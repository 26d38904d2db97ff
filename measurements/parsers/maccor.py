"""Maccor text exports (MIMS Client / Data Analysis "export to text", raw .0xx text files).

Quirks handled:
- a free-form preamble (0-12 lines, blank lines allowed) before the ``Rec#  Cyc#  Step ...``
  header; apostrophes in it (``Today's Date``) mean quoting must be off;
- ``Amp-hr``/``Amps``/``Watt-hr`` or ``mAmp-hr``/``mAmps``/``mWatt-hr`` dialects;
- current exported unsigned (or signed, depending on the export): the ``State`` column
  (C charge, D discharge, R rest, O other) gives the direction;
- capacity and energy counters reset at every step, so they are already step capacities;
- times as ``  0d 00:28:0.88`` (``TestTime``) or as seconds (``Test (Sec)``).

Big files are read by polars straight from the memory-mapped file; only the columns needed
are materialised and every transformation is a vectorised expression.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

import polars as pl

from measurements import canonical as c

from ._common import (
    check_last_line,
    decode,
    ensure_rows,
    finish,
    first_bad_number,
    first_empty_field,
    first_ragged_line,
    iter_lines,
    line_of_value,
    looks_binary,
    names_metadata,
)
from .base import ParsedData, ParseError, guard

_HEAD = 64 * 1024
_TIME_COLUMNS = ("TestTime", "Test Time", "Test (Sec)", "Test Time (sec)", "Test Time (s)")
_DURATION = re.compile(r"^\s*(?:(\d+)d\s*)?(\d+):(\d+):(\d+(?:\.\d*)?)\s*$")
_REST_STATES = ("R", "O")


@dataclass(frozen=True)
class Layout:
    """Where a Maccor text export's table starts and what its columns are called (both Maccor
    text layouts, the classic one here and the MIMS Client one of maccor_md)."""

    path: pathlib.Path
    header_line: int  # 1-based
    names: list[str]
    separator: str
    encoding: str
    preamble: dict[str, str]

    def index(self, *candidates: str) -> int | None:
        for name in candidates:
            if name in self.names:
                return self.names.index(name)
        return None


def _header_fields(line: str) -> list[str] | None:
    for sep in ("\t", ","):
        fields = [f.strip() for f in line.split(sep)]
        if len(fields) > 5 and fields[0] == "Rec#" and ("Cyc#" in fields or "State" in fields):
            return fields
    return None


def _is_header(line: str) -> bool:
    return _header_fields(line) is not None


def _preamble_fields(lines: list[str]) -> dict[str, str]:
    """``Key:<tab>value`` pairs of the preamble (``Date of Test:``, ``Procedure:``, ...)."""
    out: dict[str, str] = {}
    for line in lines:
        cells = [x.strip() for x in line.split("\t")]
        for key, value in zip(cells, cells[1:], strict=False):
            if key.endswith(":") and value and not value.endswith(":"):
                # xTESLADIAG-style lines pack several fields with runs of spaces.
                name = re.split(r"\s{2,}", key.rstrip(":"))[-1].replace("''", "'")
                out[f"preamble:{name}"] = value
    return out


def head_lines(path: pathlib.Path) -> tuple[list[str], str]:
    """The lines of the file's head and its encoding, for finding a Maccor header line (both
    Maccor text layouts read their head this way)."""
    with open(path, "rb") as fh:
        head = fh.read(_HEAD)
    if not head.strip():
        raise ParseError("empty file: no Maccor data")
    if looks_binary(head):
        raise ParseError("not a Maccor text export: binary content")
    text, encoding = decode(head)
    return text.splitlines(), encoding


def _layout(path: pathlib.Path) -> Layout:
    lines, encoding = head_lines(path)
    for number, line in enumerate(lines[:200], start=1):
        fields = _header_fields(line)
        if fields is not None:
            sep = "\t" if "\t" in line else ","
            while fields and not fields[-1]:
                fields.pop()
            preamble = _preamble_fields(lines[: number - 1])
            return Layout(path, number, fields, sep, encoding, preamble)
    raise ParseError(
        "not a Maccor text export: no header line starting with 'Rec#' (with Cyc#, State)"
    )


@dataclass(frozen=True)
class _Columns:
    cycle: int
    step: int
    time: int
    current: int
    voltage: int
    state: int
    capacity: int | None
    energy: int | None
    milli: bool


def _columns(layout: Layout) -> _Columns:
    def need(label: str, *names: str) -> int:
        found = layout.index(*names)
        if found is None:
            raise ParseError(
                f"column '{label}' missing from the Maccor header (line {layout.header_line})"
            )
        return found

    milli = "mAmps" in layout.names
    return _Columns(
        cycle=need("Cyc#", "Cyc#"),
        step=need("Step", "Step"),
        time=need("TestTime", *_TIME_COLUMNS),
        current=need("Amps", "mAmps" if milli else "Amps"),
        voltage=need("Volts", "Volts"),
        state=need("State", "State"),
        capacity=layout.index("mAmp-hr" if milli else "Amp-hr"),
        energy=layout.index("mWatt-hr" if milli else "Watt-hr"),
        milli=milli,
    )


def _col(index: int) -> str:
    return f"column_{index + 1}"


def _read(
    path: pathlib.Path, layout: Layout, cols: _Columns, decimal_comma: bool, n_fields: int
) -> pl.DataFrame:
    wanted: dict[int, pl.DataType] = {
        cols.cycle: pl.Int64,
        cols.step: pl.Int64,
        cols.time: pl.String,
        cols.current: pl.Float64,
        cols.voltage: pl.Float64,
        cols.state: pl.String,
    }
    for optional in (cols.capacity, cols.energy):
        if optional is not None:
            wanted[optional] = pl.Float64
    # Data lines may end with a separator the header line lacks: size the schema for both.
    n_columns = max(len(layout.names), n_fields)
    schema = {_col(i): wanted.get(i, pl.String) for i in range(n_columns)}
    try:
        frame = pl.read_csv(
            path,
            has_header=False,
            separator=layout.separator,
            skip_lines=layout.header_line,
            schema=schema,
            columns=[_col(i) for i in sorted(wanted)],
            quote_char=None,
            encoding="utf8-lossy",
            decimal_comma=decimal_comma,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        _diagnose(path, layout, {i: layout.names[i] for i, t in wanted.items() if t != pl.String})
        raise
    if not any(frame.null_count().row(0)):
        return frame  # the usual case; null counts are known without scanning
    # Blank lines (maccor_three has them) come through as all-null rows.
    return frame.filter(~pl.all_horizontal(pl.all().is_null()))


def _diagnose(path: pathlib.Path, layout: Layout, numeric: dict[int, str]) -> None:
    """Turn a refused or incomplete table into an error naming the line."""
    start = layout.header_line + 1
    bad = first_ragged_line(
        path,
        start_line=start,
        expected=len(layout.names),
        separator=layout.separator,
        encoding=layout.encoding,
    )
    if bad is not None:
        raise ParseError(f"expected {len(layout.names)} columns, found {bad[1]}", line=bad[0])
    error = first_bad_number(
        path,
        start_line=start,
        separator=layout.separator,
        encoding=layout.encoding,
        columns=numeric,
    )
    if error is not None:
        raise error


def _seconds(time: pl.Expr, fixed_layout: bool) -> pl.Expr:
    """Maccor ``DDDd HH:MM:SS.ss`` to seconds.

    The fixed-width form (day count padded to 3, as MIMS writes it) is cut by position and
    parsed by polars' native time parser, ~3x faster than the general regular expression.
    """
    if fixed_layout:
        clock = time.str.slice(5).str.to_time("%H:%M:%S%.f")
        days = time.str.slice(0, 3).str.strip_chars_start().cast(pl.Int64)
        return days * 86400.0 + clock.cast(pl.Int64) / 1e9
    parts = time.str.extract_groups(_DURATION.pattern)
    days = parts.struct.field("1").cast(pl.Float64).fill_null(0.0)
    hours = parts.struct.field("2").cast(pl.Float64)
    minutes = parts.struct.field("3").cast(pl.Float64)
    secs = parts.struct.field("4").cast(pl.Float64)
    return days * 86400.0 + hours * 3600.0 + minutes * 60.0 + secs


def _time_expr(frame: pl.DataFrame, name: str) -> tuple[pl.Expr, str, bool]:
    """(expression giving seconds, format name, whether it is the fast fixed-width path)."""
    column = frame.get_column(name)
    sample = column.head(5).drop_nulls()
    if sample.len() and all(_is_float(x) for x in sample):
        return pl.col(name).str.strip_chars().cast(pl.Float64, strict=False), "seconds", False
    # Judged on the first values only: a row with another layout makes the strict fast
    # parser raise, and the caller then falls back to the regular expression.
    fixed = sample.len() > 0 and all(x[3:5] == "d " and x[7:8] == ":" for x in sample)
    return _seconds(pl.col(name), fixed), "d hh:mm:ss", fixed


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _volts_scale(frame: pl.DataFrame, cols: _Columns) -> float:
    """1.0, or 1e-3 when the ``Volts`` column actually holds millivolts.

    Some milli-unit exports (cellpy's maccor_three) write mV under a ``Volts`` header. The
    energy/capacity counters give the mean voltage independently (Wh/Ah = V), so the
    column's unit is decided by comparison rather than by a threshold on the values. A
    strided sample is plenty for a median and keeps this cheap on millions of rows.
    """
    if cols.capacity is None or cols.energy is None:
        return 1.0
    q, e, v = _col(cols.capacity), _col(cols.energy), _col(cols.voltage)
    sample = frame.select(q, e, v).gather_every(max(1, frame.height // 20_000))
    rows = sample.filter(pl.col(q).abs() > 0)
    if rows.height < 10:
        return 1.0
    ratio = rows.select(pl.col(v).abs().median() / (pl.col(e) / pl.col(q)).abs().median()).item()
    if ratio is not None and 300.0 < ratio < 3000.0:
        return 1e-3
    return 1.0


def _signed_current(current: pl.Expr, state: pl.Expr) -> pl.Expr:
    magnitude = current.abs()
    return (
        pl.when(state == "C")
        .then(magnitude)
        .when(state == "D")
        .then(-magnitude)
        .when(state.is_in(_REST_STATES))
        .then(0.0)
        .otherwise(current)
    )


def _state_warnings(frame: pl.DataFrame, state: str) -> list[str]:
    counts = frame.group_by(state).len()
    odd = counts.filter(~pl.col(state).is_in(["C", "D", *_REST_STATES]))
    if odd.height == 0:
        return []
    listed = ", ".join(f"{s!r}: {n}" for s, n in odd.iter_rows())
    return [f"unknown Maccor State values kept with their exported current sign ({listed})"]


class MaccorParser:
    name = "maccor"
    label = "Maccor text export"
    extensions = (".txt", ".csv")

    def sniff(self, head: bytes, filename: str) -> bool:
        if looks_binary(head):
            return False
        text, _ = decode(head)
        return any(_is_header(line) for line in text.splitlines()[:200])

    @guard("Maccor")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        layout = _layout(path)
        cols = _columns(layout)
        first = _first_data_fields(path, layout)
        decimal_comma = _decimal_comma(layout, first)
        frame = _read(path, layout, cols, decimal_comma, len(first))
        ensure_rows(frame, f"Maccor export (header at line {layout.header_line})")
        self._check_complete(path, layout, cols, frame)
        check_last_line(
            path, expected=len(layout.names), separator=layout.separator, encoding=layout.encoding
        )
        return self._canonical(frame, layout, cols, decimal_comma)

    def _check_complete(
        self, path: pathlib.Path, layout: Layout, cols: _Columns, frame: pl.DataFrame
    ) -> None:
        required = [cols.cycle, cols.step, cols.time, cols.current, cols.voltage, cols.state]
        if any(frame.get_column(_col(i)).null_count() for i in required):
            _diagnose(path, layout, {})
            error = first_empty_field(
                path,
                start_line=layout.header_line + 1,
                separator=layout.separator,
                encoding=layout.encoding,
                columns={i: layout.names[i] for i in required},
            )
            if error is not None:
                raise error
            raise ParseError(
                "some rows lack a required value (Cyc#, Step, time, Amps, Volts, State)"
            )

    def _canonical(
        self, frame: pl.DataFrame, layout: Layout, cols: _Columns, decimal_comma: bool
    ) -> ParsedData:
        warnings = _state_warnings(frame, _col(cols.state))
        volts = _volts_scale(frame, cols)
        if volts != 1.0:
            warnings.append(
                "the 'Volts' column holds millivolts (checked against Wh/Ah); divided by 1000"
            )
        time_expr, time_format, fast = _time_expr(frame, _col(cols.time))
        exprs, used = _expressions(layout, cols, volts, time_expr)
        try:
            data = finish("cycling", exprs, frame)
        except pl.exceptions.PolarsError:
            if not fast:
                raise
            # One odd time value defeats the fixed-width fast path; the regex path copes.
            exprs[c.TIME_S] = _seconds(pl.col(_col(cols.time)), False)
            data = finish("cycling", exprs, frame)
        _check_times(data, frame, layout, cols)
        metadata = {
            "instrument": "Maccor",
            "format": self.label,
            "units_dialect": "mAmp-hr/mAmps" if cols.milli else "Amp-hr/Amps",
            "time_format": time_format,
            "encoding": layout.encoding,
            "decimal_separator": "," if decimal_comma else ".",
            "header_line": layout.header_line,
            "row_count": data.height,
            "cycle_count": data.get_column(c.CYCLE).n_unique(),
            **names_metadata(layout.names, used),
            **layout.preamble,
        }
        return ParsedData("cycling", data, metadata, warnings)


def _expressions(
    layout: Layout, cols: _Columns, volts: float, time_expr: pl.Expr
) -> tuple[dict[str, pl.Expr], dict[str, str]]:
    amp = 1.0 if cols.milli else 1000.0  # A, Ah, Wh -> mA, mAh, mWh
    state = pl.col(_col(cols.state)).str.strip_chars()
    exprs = {
        c.TIME_S: time_expr,
        c.VOLTAGE_V: pl.col(_col(cols.voltage)) * volts,
        c.CURRENT_MA: _signed_current(pl.col(_col(cols.current)) * amp, state),
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
    for name in (c.STEP_CAPACITY_MAH, c.STEP_ENERGY_MWH):
        if sources[name] is not None:
            exprs[name] = pl.col(_col(sources[name])).abs() * amp
    used = {name: layout.names[i] for name, i in sources.items() if i is not None}
    return exprs, used


def _check_times(data: pl.DataFrame, frame: pl.DataFrame, layout: Layout, cols: _Columns) -> None:
    missing = data.get_column(c.TIME_S).is_null()
    if missing.any():
        bad = frame.get_column(_col(cols.time)).filter(missing).head(1).item()
        line = line_of_value(
            layout.path,
            start_line=layout.header_line + 1,
            separator=layout.separator,
            encoding=layout.encoding,
            index=cols.time,
            value=bad,
        )
        raise ParseError(f"column '{layout.names[cols.time]}': cannot read time '{bad}'", line=line)


def _first_data_fields(path: pathlib.Path, layout: Layout) -> list[str]:
    for number, line in iter_lines(path, layout.encoding):
        if number > layout.header_line and line.strip():
            return line.split(layout.separator)
    return []


def _decimal_comma(layout: Layout, first: list[str]) -> bool:
    """European-locale exports write ``3,4625``; decided from the first data line."""
    index = layout.index("Volts")
    if layout.separator == "," or index is None or index >= len(first):
        return False
    value = first[index].strip()
    return "," in value and "." not in value


PARSER = MaccorParser()
