"""Arbin MITS Pro ``.res`` files: an MS Access (Jet 4) database, read with mdbtools.

The data are in two tables (as cellpy and galvani read them):

- ``Global_Table``: one row per test: ``Test_ID``, ``Test_Name``, ``Start_DateTime`` (an OLE
  date: days since 1899-12-30), ``Schedule_File_Name``, ``Channel_Number``, ...;
- ``Channel_Normal_Table``: one row per data point: ``Test_ID``, ``Data_Point``,
  ``Test_Time`` (s), ``Step_Index``, ``Cycle_Index``, ``Current`` (A, > 0 charges),
  ``Voltage`` (V), ``Charge_Capacity``/``Discharge_Capacity`` (Ah) and
  ``Charge_Energy``/``Discharge_Energy`` (Wh).

Quirks handled:
- the capacity and energy counters are cumulative within a cycle and restart at 0 when the
  cycle index changes; a counter that goes down is taken as restarted (also when a test is
  resumed), so the charge of a step is the sum of its increases;
- rows are ordered by ``Data_Point``, which the database does not guarantee;
- one ``.res`` may hold several tests (``Test_ID``): the ``test_id`` option chooses one;
- mdbtools is an external program (Debian package ``mdbtools``: ``mdb-tables``,
  ``mdb-export``); without it the file is refused with a message saying to install it.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import shutil
import subprocess
import tempfile

import polars as pl

from measurements import canonical as c

from ._common import finish, names_metadata
from .base import Doubt, ParsedData, ParseError, guard, whole_number

_JET_SIGNATURES = (b"Standard Jet DB", b"Standard ACE DB")
_DATA_TABLE = "Channel_Normal_Table"
_TEST_TABLE = "Global_Table"
_CURRENT_NAMES = ("Current", "Current (A)")
_REQUIRED = ("Test_ID", "Data_Point", "Test_Time", "Step_Index", "Cycle_Index", "Voltage")
_COUNTERS = ("Charge_Capacity", "Discharge_Capacity", "Charge_Energy", "Discharge_Energy")
_INSTALL = (
    "Arbin .res files are read with mdbtools, which is not installed on the machine running "
    "the worker: install it (Debian/Ubuntu: apt-get install mdbtools), then press Re-run"
)
# mdb-export of a million-row table takes tens of seconds; a damaged file must not hang the
# worker for ever.
TIMEOUT_S = 900


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ParseError(_INSTALL)
    return path


def _run(args: list[str], stdout) -> None:
    """Run an mdbtools command; a failure is the file's (damaged or not a database)."""
    env = {**os.environ, "LC_ALL": "C"}  # numbers with a decimal point whatever the locale
    try:
        done = subprocess.run(
            args, stdout=stdout, stderr=subprocess.PIPE, env=env, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise ParseError(
            f"reading the Arbin .res database took more than {TIMEOUT_S} s "
            f"({pathlib.Path(args[0]).name}); the file may be damaged"
        ) from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = f" ({detail[0][:200]})" if detail else ""
        raise ParseError(
            f"could not read the Arbin .res database{reason}; the file may be damaged or "
            "truncated: upload it again from the Arbin PC"
        )


def _tables(path: pathlib.Path) -> list[str]:
    with tempfile.TemporaryFile() as out:
        _run([_tool("mdb-tables"), "-1", str(path)], out)
        out.seek(0)
        return [t.strip() for t in out.read().decode("utf-8", "replace").splitlines() if t.strip()]


def _export(path: pathlib.Path, table: str, tmp: pathlib.Path) -> pl.DataFrame:
    """A table as a polars frame, through a CSV file (no copy of a big table in a pipe)."""
    target = tmp / f"{table}.csv"
    with open(target, "wb") as out:
        _run([_tool("mdb-export"), str(path), table], out)
    if target.stat().st_size == 0:
        raise ParseError(f"the Arbin .res table {table} could not be exported (empty output)")
    return pl.read_csv(
        target,
        infer_schema_length=None,
        null_values=[""],
        raise_if_empty=False,
        encoding="utf8-lossy",
    )


def _ole_date(days: object) -> str | None:
    """Arbin stores dates as OLE Automation dates (days since 1899-12-30, local time)."""
    try:
        value = float(days)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not 1.0 < value < 200_000.0:
        return None
    when = dt.datetime(1899, 12, 30) + dt.timedelta(days=value)
    return when.isoformat(sep=" ", timespec="seconds")


def _check_tables(tables: list[str]) -> None:
    missing = [t for t in (_DATA_TABLE, _TEST_TABLE) if t not in tables]
    if missing:
        listed = ", ".join(tables[:12]) or "none"
        raise ParseError(
            f"an MS Access database, but not an Arbin .res file: it has no {missing[0]} "
            f"(tables: {listed})"
        )


def _choose_test(data: pl.DataFrame, tests: pl.DataFrame, test_id: int | None) -> int:
    present = sorted(data.get_column("Test_ID").drop_nulls().unique().to_list())
    if test_id is not None:
        if test_id not in present:
            raise ParseError(
                f"test_id {test_id} is not in this Arbin .res file; it holds test "
                f"{', '.join(map(str, present)) or 'none'}"
            )
        return test_id
    if len(present) > 1:
        names = {}
        if "Test_ID" in tests.columns and "Test_Name" in tests.columns:
            names = dict(
                zip(tests["Test_ID"].to_list(), tests["Test_Name"].to_list(), strict=False)
            )
        listed = "; ".join(f"{t} ({names[t]})" if names.get(t) else str(t) for t in present)
        raise ParseError(
            f"this Arbin .res file holds {len(present)} tests: {listed}; choose one with the "
            "option test_id"
        )
    if not present:
        raise ParseError(f"the Arbin .res file has no data rows in {_DATA_TABLE}")
    return present[0]


def _check_columns(data: pl.DataFrame) -> str:
    """The current column's name; refuses a table without the columns the data need."""
    missing = [n for n in _REQUIRED if n not in data.columns]
    current = next((n for n in _CURRENT_NAMES if n in data.columns), None)
    if current is None:
        missing.append("Current")
    if missing:
        raise ParseError(
            f"column '{missing[0]}' missing from the Arbin {_DATA_TABLE} "
            f"(columns: {', '.join(data.columns)})"
        )
    return current


def _check_values(data: pl.DataFrame, current: str) -> None:
    """Every required value present and numeric; names the data point where one is not."""
    for name in (*_REQUIRED, current):
        column = data.get_column(name)
        if not column.dtype.is_numeric():
            as_number = column.cast(pl.Float64, strict=False)
            bad = column.filter(as_number.is_null() & column.is_not_null())
            if bad.len():
                raise ParseError(
                    f"column '{name}': '{str(bad[0])[:40]}' is not a number "
                    f"(data point {_point_of(data, column, bad[0])})"
                )
        if column.null_count():
            index = column.is_null().arg_max()
            point = data.get_column("Data_Point")[index] if name != "Data_Point" else None
            where = f" at data point {point}" if point is not None else f" in row {index + 1}"
            raise ParseError(f"column '{name}' is empty{where}")


def _point_of(data: pl.DataFrame, column: pl.Series, value: object) -> object:
    index = (column == value).arg_max()
    return data.get_column("Data_Point")[index] if index is not None else "?"


def _counter_since_step_start(counter: pl.Expr, run_starts: pl.Expr) -> pl.Expr:
    """Charge (or energy) since the start of each run of rows, from a counter that restarts.

    The increase from the previous row is added to the row's step; a counter that went down
    restarted from 0 (new cycle, resumed test), so the row adds its whole value. The first
    interval of a step (from the previous step's last row) belongs to the step.
    """
    value = counter.fill_null(0.0).abs()
    before = value.shift(1).fill_null(0.0)
    increase = pl.when(value >= before).then(value - before).otherwise(value)
    total = increase.cum_sum()
    base = pl.when(run_starts).then(total - increase).otherwise(None).forward_fill()
    return total - base


class ArbinResParser:
    name = "arbin_res"
    label = "Arbin MITS Pro (.res, via mdbtools)"
    extensions = (".res",)
    accepted_options = {"test_id": whole_number(0, 2**31 - 1)}

    def sniff(self, head: bytes, filename: str) -> bool:
        return head[4:19] in _JET_SIGNATURES

    @guard("Arbin .res")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        if path.stat().st_size == 0:
            raise ParseError("empty file: no Arbin data")
        with open(path, "rb") as fh:
            if fh.read(19)[4:19] not in _JET_SIGNATURES:
                raise ParseError("not an Arbin .res file: not an MS Access (Jet) database")
        _tool("mdb-export")
        _check_tables(_tables(path))
        with tempfile.TemporaryDirectory(prefix="arbin-res-") as tmp:
            tests = _export(path, _TEST_TABLE, pathlib.Path(tmp))
            raw = _export(path, _DATA_TABLE, pathlib.Path(tmp))
        if raw.height == 0:
            raise ParseError(f"the Arbin .res file has no data rows in {_DATA_TABLE}")
        current = _check_columns(raw)
        _check_values(raw, current)
        test_id = _choose_test(raw, tests, (options or {}).get("test_id"))
        frame = raw.filter(pl.col("Test_ID") == test_id).sort("Data_Point", maintain_order=True)
        data = finish("cycling", _expressions(frame, current), frame)
        warnings = _warnings(frame)
        metadata = {
            "instrument": "Arbin",
            "format": self.label,
            "row_count": data.height,
            "cycle_count": data.get_column(c.CYCLE).n_unique(),
            "test_id": test_id,
            **_test_metadata(tests, test_id),
            **names_metadata(raw.columns, _used(frame, current)),
        }
        return ParsedData("cycling", data, metadata, warnings)


def _expressions(frame: pl.DataFrame, current: str) -> dict[str, pl.Expr]:
    step, cycle = pl.col("Step_Index"), pl.col("Cycle_Index")
    starts = step.ne_missing(step.shift(1)) | cycle.ne_missing(cycle.shift(1))

    def counted(*names: str) -> pl.Expr | None:
        if not all(n in frame.columns for n in names):
            return None
        # One of the two counters grows in a step; each is followed on its own.
        parts = [_counter_since_step_start(pl.col(n).cast(pl.Float64), starts) for n in names]
        return sum(parts[1:], parts[0]) * 1000.0  # Ah, Wh -> mAh, mWh

    exprs: dict[str, pl.Expr] = {
        c.TIME_S: pl.col("Test_Time"),
        c.VOLTAGE_V: pl.col("Voltage"),
        c.CURRENT_MA: pl.col(current) * 1000.0,
        c.CYCLE: cycle,
        c.STEP: step,
    }
    capacity = counted("Charge_Capacity", "Discharge_Capacity")
    energy = counted("Charge_Energy", "Discharge_Energy")
    if capacity is not None:
        exprs[c.STEP_CAPACITY_MAH] = capacity
    if energy is not None:
        exprs[c.STEP_ENERGY_MWH] = energy
    return exprs


def _used(frame: pl.DataFrame, current: str) -> dict[str, str]:
    used = {
        c.TIME_S: "Test_Time",
        c.VOLTAGE_V: "Voltage",
        c.CURRENT_MA: current,
        c.CYCLE: "Cycle_Index",
        c.STEP: "Step_Index",
    }
    if {"Charge_Capacity", "Discharge_Capacity"} <= set(frame.columns):
        used[c.STEP_CAPACITY_MAH] = "Charge_Capacity + Discharge_Capacity (since step start)"
    if {"Charge_Energy", "Discharge_Energy"} <= set(frame.columns):
        used[c.STEP_ENERGY_MWH] = "Charge_Energy + Discharge_Energy (since step start)"
    return used


def _warnings(frame: pl.DataFrame) -> list[str]:
    warnings = []
    points = frame.get_column("Data_Point")
    missing = int(points.max() - points.min() + 1 - points.n_unique())
    if missing > 0:
        warnings.append(
            Doubt(
                f"{missing} data points are missing between {points.min()} and {points.max()} "
                "(Data_Point is not consecutive: damaged file?)"
            )
        )
    back = frame.select((pl.col("Test_Time").diff() < 0).sum()).item()
    if back:
        warnings.append(
            Doubt(f"Test_Time goes backwards {back} times (test resumed or clock changed)")
        )
    same_cycle = pl.col("Cycle_Index") == pl.col("Cycle_Index").shift(1)
    for name in _COUNTERS[:2]:
        if name in frame.columns:
            drops = frame.select(((pl.col(name) < pl.col(name).shift(1)) & same_cycle).sum()).item()
            if drops:
                warnings.append(
                    f"{name} restarts {drops} times within a cycle (test resumed?); each "
                    "restart is counted from 0"
                )
    return warnings


def _test_metadata(tests: pl.DataFrame, test_id: int) -> dict[str, str | float | int]:
    if "Test_ID" not in tests.columns:
        return {}
    rows = tests.filter(pl.col("Test_ID") == test_id)
    if rows.height == 0:
        return {}
    row = rows.row(0, named=True)
    out: dict[str, str | float | int] = {}
    for key, name in (
        ("Test_Name", "test_name"),
        ("Schedule_File_Name", "schedule"),
        ("Channel_Number", "channel"),
        ("Software_Version", "software_version"),
        ("Serial_Number", "serial_number"),
    ):
        value = row.get(key)
        if value is not None and str(value).strip():
            out[name] = value if isinstance(value, int | float) else str(value).strip()
    start = _ole_date(row.get("Start_DateTime"))
    if start:
        out["start_time"] = start
    return out


PARSER = ArbinResParser()
