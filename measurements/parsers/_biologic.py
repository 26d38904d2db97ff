"""BioLogic column names to canonical columns, shared by the .mpt, .mpr and BT-Lab readers.

EC-Lab and BT-Lab name columns the same way whatever the container (ASCII .mpt, binary .mpr,
BT-Lab csv), with units in the names: ``Ewe/V``, ``I/mA``, ``(Q-Qo)/mA.h``, ``freq/Hz``...
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from measurements import canonical as c

from ._common import (
    current_from_increments,
    finish,
    step_capacity_from_charge,
    step_capacity_from_increments,
)
from .base import Kind, ParseError, one_of

TIME = ("time/s",)
VOLTAGE = ("Ecell/V", "Ewe/V", "<Ewe>/V", "<Ewe/V>", "<Ecell>/V")
CURRENT = ("I/mA", "<I>/mA", "<I/mA>")
CHARGE = ("(Q-Qo)/mA.h",)
INCREMENT = ("dq/mA.h",)
CYCLE = ("cycle number",)
HALF_CYCLE = ("half cycle",)
STEP = ("Ns",)
FREQ = ("freq/Hz",)
RE_Z = ("Re(Z)/Ohm",)
MINUS_IM_Z = ("-Im(Z)/Ohm",)
MOD_Z = ("|Z|/Ohm",)
PHASE_Z = ("Phase(Z)/deg",)

# Every name the mapping may read: readers only need to load these columns.
USEFUL = frozenset(
    TIME
    + VOLTAGE
    + CURRENT
    + CHARGE
    + INCREMENT
    + CYCLE
    + HALF_CYCLE
    + STEP
    + FREQ
    + RE_Z
    + MINUS_IM_Z
    + MOD_Z
    + PHASE_Z
)


# `kind`: read a file holding both impedance and cycling rows as one or the other.
ACCEPTED_OPTIONS = {"kind": one_of("eis", "cycling")}


@dataclass
class Mapped:
    kind: Kind
    data: pl.DataFrame
    used: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, str | int | float] = field(default_factory=dict)


def pick(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    return next((name for name in candidates if name in columns), None)


def _has_eis(columns: list[str]) -> bool:
    if pick(columns, FREQ) is None:
        return False
    cartesian = pick(columns, RE_Z) and pick(columns, MINUS_IM_Z)
    polar = pick(columns, MOD_Z) and pick(columns, PHASE_Z)
    return bool(cartesian or polar)


def choose_kind(frame: pl.DataFrame, requested: str | None) -> tuple[Kind, int]:
    """(kind, number of impedance rows). Impedance wins only if most rows are impedance.

    Modular sequences (GCPL with PEIS between cycles, as in cellpy's biol.mpr) carry the
    impedance columns on every row but fill them on a few; such a file is cycling data.
    """
    columns = frame.columns
    eis_rows = 0
    if _has_eis(columns):
        eis_rows = frame.select((pl.col(pick(columns, FREQ)) > 0).sum()).item() or 0
    if requested in ("eis", "cycling"):
        if requested == "eis" and eis_rows == 0:
            raise ParseError("kind 'eis' requested but the file has no impedance points (freq/Hz)")
        return requested, eis_rows  # type: ignore[return-value]
    if requested is not None:
        raise ParseError(f"BioLogic data can be read as 'cycling' or 'eis', not {requested!r}")
    return ("eis" if eis_rows * 2 > frame.height else "cycling"), eis_rows


def to_canonical(frame: pl.DataFrame, options: dict | None) -> Mapped:
    requested = (options or {}).get("kind")
    kind, eis_rows = choose_kind(frame, requested)
    if kind == "eis":
        return _eis(frame, eis_rows)
    return _cycling(frame, eis_rows)


def _eis(frame: pl.DataFrame, eis_rows: int) -> Mapped:
    cols = frame.columns
    freq = pick(cols, FREQ)
    rows = frame.filter(pl.col(freq) > 0)
    warnings = []
    if rows.height < frame.height:
        warnings.append(f"{frame.height - rows.height} non-impedance rows left out (freq/Hz = 0)")
    re_z, im_z = pick(cols, RE_Z), pick(cols, MINUS_IM_Z)
    used = {c.FREQUENCY_HZ: freq}
    if re_z and im_z:
        # BioLogic exports -Im(Z); canonical Z'' keeps the sign, negative when capacitive.
        exprs = {
            c.FREQUENCY_HZ: pl.col(freq),
            c.Z_REAL_OHM: pl.col(re_z),
            c.Z_IMAG_OHM: -pl.col(im_z),
        }
        used.update({c.Z_REAL_OHM: re_z, c.Z_IMAG_OHM: im_z})
    else:
        mod, phase = pick(cols, MOD_Z), pick(cols, PHASE_Z)
        rad = pl.col(phase).radians()
        exprs = {
            c.FREQUENCY_HZ: pl.col(freq),
            c.Z_REAL_OHM: pl.col(mod) * rad.cos(),
            c.Z_IMAG_OHM: pl.col(mod) * rad.sin(),
        }
        used.update({c.Z_REAL_OHM: f"{mod} * cos({phase})", c.Z_IMAG_OHM: f"{mod} * sin({phase})"})
        warnings.append("impedance computed from |Z| and Phase(Z) (no Re(Z)/-Im(Z) columns)")
    return Mapped("eis", finish("eis", exprs, rows), used, warnings)


def _cycling(frame: pl.DataFrame, eis_rows: int) -> Mapped:
    cols = frame.columns
    warnings: list[str] = []
    if eis_rows:
        frame = frame.filter(~(pl.col(pick(cols, FREQ)) > 0).fill_null(False))
        warnings.append(
            f"{eis_rows} impedance points (freq/Hz > 0) left out of the cycling data; "
            "parse with options={'kind': 'eis'} to read them"
        )
    time, volt = pick(cols, TIME), pick(cols, VOLTAGE)
    for label, found in (("time/s", time), ("Ewe/V", volt)):
        if found is None:
            raise ParseError(f"column '{label}' missing")
    exprs: dict[str, pl.Expr] = {c.TIME_S: pl.col(time), c.VOLTAGE_V: pl.col(volt)}
    used = {c.TIME_S: time, c.VOLTAGE_V: volt}
    meta: dict[str, str | int | float] = {}
    _current(cols, exprs, used, warnings)
    _counters(cols, exprs, used, warnings, meta)
    data = finish("cycling", exprs, frame)
    if c.CURRENT_MA in used and used[c.CURRENT_MA] not in cols:
        _check_derived_current(data, used)
    return Mapped("cycling", data, used, warnings, meta)


def _current(cols: list[str], exprs: dict, used: dict, warnings: list[str]) -> None:
    current, increment = pick(cols, CURRENT), pick(cols, INCREMENT)
    charge, step = pick(cols, CHARGE), pick(cols, STEP)
    time = pl.col(pick(cols, TIME))
    step_expr = pl.col(step) if step else None
    if current:
        exprs[c.CURRENT_MA] = pl.col(current)
        used[c.CURRENT_MA] = current
    elif increment:
        exprs[c.CURRENT_MA] = current_from_increments(pl.col(increment), time, step_expr)
        used[c.CURRENT_MA] = f"{increment} / d(time/s)"
        warnings.append("no I/mA column: current computed from dq/mA.h over each time interval")
    elif charge:
        dq = pl.col(charge).diff().fill_null(0.0)
        exprs[c.CURRENT_MA] = current_from_increments(dq, time, step_expr)
        used[c.CURRENT_MA] = f"d({charge}) / d(time/s)"
        warnings.append(
            "no I/mA or dq/mA.h column: current computed from the change of (Q-Qo)/mA.h over "
            "each time interval"
        )
    else:
        raise ParseError(
            "column 'I/mA' missing (and no dq/mA.h or (Q-Qo)/mA.h to derive the current from)"
        )


def _check_derived_current(data: pl.DataFrame, used: dict) -> None:
    """A derived current left null: charge passed between two points with the same time."""
    if data.get_column(c.CURRENT_MA).null_count() == 0:
        return
    row = int(data.get_column(c.CURRENT_MA).is_null().arg_max())
    raise ParseError(
        f"data point {row + 1}: charge passed in zero time (time/s does not advance), so its "
        f"current cannot be computed from {used[c.CURRENT_MA]}; export the file with the I/mA "
        "column"
    )


def _counters(cols: list[str], exprs: dict, used: dict, warnings: list[str], meta: dict) -> None:
    step = pick(cols, STEP)
    if step:
        exprs[c.STEP] = pl.col(step)
        used[c.STEP] = step
        charge, increment = pick(cols, CHARGE), pick(cols, INCREMENT)
        if charge:
            exprs[c.STEP_CAPACITY_MAH] = step_capacity_from_charge(pl.col(charge), pl.col(step))
            used[c.STEP_CAPACITY_MAH] = f"{charge} since each change of Ns"
        elif increment:
            exprs[c.STEP_CAPACITY_MAH] = step_capacity_from_increments(
                pl.col(increment), pl.col(step)
            )
            used[c.STEP_CAPACITY_MAH] = f"sum of {increment} since each change of Ns"
    cycle, half = pick(cols, CYCLE), pick(cols, HALF_CYCLE)
    if cycle:
        exprs[c.CYCLE] = pl.col(cycle).round(0)
        used[c.CYCLE] = cycle
        meta["cycle_source"] = cycle
    elif half:
        # EC-Lab counts half cycles (charge/discharge alternance); two make a cycle.
        exprs[c.CYCLE] = (pl.col(half) // 2).round(0)
        used[c.CYCLE] = f"{half} // 2"
        meta["cycle_source"] = "half cycle // 2"
        warnings.append("no 'cycle number' column: cycle taken as half cycle // 2")
    else:
        meta["cycle_source"] = "none"
        warnings.append("no cycle counter in the file: cycle is null")
