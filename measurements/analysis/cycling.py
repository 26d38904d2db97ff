"""Galvanostatic cycling metrics: per-cycle capacities, efficiency, energy, and summaries.

Input is a polars DataFrame with the canonical cycling columns (``measurements.canonical``):
time_s, voltage_V, signed current_mA (> 0 charges the cell), cycle, step, and optionally
step_capacity_mAh / step_energy_mWh. Everything is done with vectorised polars expressions:
one pass over the rows builds a table of steps, and the per-cycle table is built from that.

Conventions
- Cycles come from the instrument's cycle counter where it has one. Only without a counter,
  or with one that never advances although the current changes direction more often than one
  cycle can hold (three or more charge/discharge halves: cellpy's maccor_001 keeps Cyc# 0
  over five discharges and four charges), are they inferred: a new cycle starts at each
  charge step that follows a discharge step. The rule used is returned by
  ``per_cycle_with_rule`` and ``cycle_rule`` so a result can say it. The sign of single
  points never decides a cycle (a stray point would mis-pair every later cycle): directions
  are those of whole steps.
- Steps come from the instrument's step counter (a new step wherever the counter or the cycle
  changes), otherwise from changes of the sign of the current, debounced so that a run of
  fewer than ``MIN_STEP_ROWS`` rows joins the step it interrupts.
- A step's direction is the sign of its mean current; steps with a mean |current| below 1 %
  of the largest are rests.
- Capacity per step: the instrument's step counter (max of step_capacity_mAh) where exported,
  otherwise the trapezoid integral of |current| over the step's rows. Energy likewise with
  step_energy_mWh or |V I|. A counter that carries on into the next step of the same
  direction (Maccor: CC then CV charge) is counted once.
- Coulombic efficiency = Q_discharge / Q_charge of the same cycle, as a fraction: the
  convention for a cathode-limited full cell (e.g. Li|SPE/LAGP|NCM811), where charge
  delithiates the cathode first. Half cells against Li that start with a discharge (or
  anode-limited cells) would use Q_charge / Q_discharge; this module does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from measurements import canonical as c
from measurements.analysis import AnalysisError
from measurements.analysis._util import (
    has_values,
    jsonable,
    optional_column,
    require_finite_columns,
    require_frame,
    step_id_expr,
)

ALGORITHM_VERSION = "cycling/1"
SPECIFIC_CURRENT_1C_MA_G = 200.0  # paper: 1C = 200 mA per g NCM811
MIN_STEP_ROWS = 3
REST_FRACTION = 0.01
# C-rates a programme uses; a detected rate within 10 % of one of these snaps to it (the lab
# sets currents from a nominal mass that differs slightly from the weighed one).
NOMINAL_C_RATES = (0.02, 0.05, 0.1, 0.2, 0.25, 1 / 3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)

PER_CYCLE_COLUMNS = (
    "cycle",
    "charge_mAh",
    "discharge_mAh",
    "charge_mAh_g",
    "discharge_mAh_g",
    "coulombic_efficiency",
    "charge_energy_mWh",
    "discharge_energy_mWh",
    "mean_charge_voltage_V",
    "mean_discharge_voltage_V",
    "c_rate",
    "duration_h",
)


# --- per cycle --------------------------------------------------------------------------------


RULE_COUNTER = "instrument counter"
RULE_NO_COUNTER = (
    "from current direction: a cycle is a charge followed by a discharge "
    "(the file has no cycle counter)"
)
RULE_STUCK_COUNTER = (
    "from current direction: a cycle is a charge followed by a discharge "
    "(the instrument's cycle counter never advances)"
)


def per_cycle(
    df: pl.DataFrame,
    active_mass_g: float,
    *,
    nominal_specific_current_mA_g: float = SPECIFIC_CURRENT_1C_MA_G,
) -> pl.DataFrame:
    """``per_cycle_with_rule`` without the rule."""
    return per_cycle_with_rule(
        df, active_mass_g, nominal_specific_current_mA_g=nominal_specific_current_mA_g
    )[0]


def cycle_rule(df: pl.DataFrame) -> str:
    """How cycles are found in a canonical cycling frame (one of the ``RULE_*`` texts)."""
    require_frame(df, (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA), what="cycling", min_rows=2)
    if has_values(df, c.CYCLE) and df[c.CYCLE].drop_nulls().n_unique() > 1:
        return RULE_COUNTER  # the common case, decided without a pass over the steps
    require_finite_columns(df, (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA), what="cycling")
    return _cycles_by_rule(_step_table(df), df)[1]


def _half_cycles(steps: pl.DataFrame) -> int:
    """Runs of consecutive charge (or discharge) steps, rests skipped."""
    active = _classify_steps(steps).filter(pl.col("direction") != 0)["direction"]
    return int(active.rle_id().max() + 1) if active.len() else 0


def _cycles_by_rule(steps: pl.DataFrame, df: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    if not has_values(df, c.CYCLE):
        return _infer_cycles(steps), RULE_NO_COUNTER
    # One cycle holds at most one charge half and one discharge half: three or more halves
    # under one counter value mean the counter is not counting cycles.
    if steps["cycle"].n_unique() == 1 and _half_cycles(steps) >= 3:
        return _infer_cycles(steps), RULE_STUCK_COUNTER
    return steps, RULE_COUNTER


def per_cycle_with_rule(
    df: pl.DataFrame,
    active_mass_g: float,
    *,
    nominal_specific_current_mA_g: float = SPECIFIC_CURRENT_1C_MA_G,
) -> tuple[pl.DataFrame, str]:
    """One row per cycle with the columns in ``PER_CYCLE_COLUMNS``, and the cycle rule used
    (``RULE_COUNTER``, ``RULE_NO_COUNTER`` or ``RULE_STUCK_COUNTER``, see module docstring).

    Capacities in mAh and mAh per g of active material; coulombic_efficiency is
    Q_discharge / Q_charge (cathode-limited full cell, see module docstring) as a fraction;
    mean voltages are energy / capacity of the cycle's charge or discharge steps; c_rate is
    the time-averaged |current| of the discharge steps / (active_mass_g x
    ``nominal_specific_current_mA_g``), snapped to a nominal rate within 10 % or else rounded
    to two significant figures; duration_h spans the cycle's first to last row. Cycles with
    neither charge nor discharge (rest only) are left out.
    """
    _check_cycling_input(df, active_mass_g, nominal_specific_current_mA_g)
    steps, rule = _cycles_by_rule(_step_table(df), df)
    cycles = _cycle_table(_classify_steps(steps))
    one_c = active_mass_g * nominal_specific_current_mA_g
    return _finish_cycles(cycles, active_mass_g, one_c), rule


def cycle_profile(df: pl.DataFrame, cycle: int, active_mass_g: float) -> pl.DataFrame:
    """Voltage against specific capacity through one cycle (numbered as ``per_cycle`` numbers
    them, before any offset), for voltage-profile plots.

    Columns: direction (+1 charge, -1 discharge), capacity_mAh_g (charge passed since that half
    of the cycle began), voltage_V; rests are left out, and the frame is empty when the data have
    no such cycle. Within each step the trapezoid integral is scaled to the step's capacity in
    the per-cycle table (the instrument's counter where exported), so a half ends exactly at the
    table's charge or discharge capacity.
    """
    _check_cycling_input(df, active_mass_g, SPECIFIC_CURRENT_1C_MA_G)
    steps, _rule = _cycles_by_rule(_step_table(df), df)
    steps = _classify_steps(steps).select(
        "_step",
        pl.col("cycle").alias("_cycle"),
        "direction",
        # charge of the earlier steps of the same half (a CV step continues its CC step)
        _before=pl.col("q").cum_sum().over("cycle", "direction") - pl.col("q"),
        _scale=pl.when(pl.col("q_int") > 0).then(pl.col("q") / pl.col("q_int")).otherwise(1.0),
    )
    counter = optional_column(df, c.CYCLE, pl.Int64).forward_fill().backward_fill()
    new_step = pl.col("_step").ne_missing(pl.col("_step").shift())
    i_abs = pl.col(c.CURRENT_MA).abs()
    dq = (
        pl.when(new_step)
        .then(0.0)
        .otherwise(0.5 * (i_abs + i_abs.shift()) * pl.col(c.TIME_S).diff() / 3600.0)
    )
    return (
        df.lazy()
        .with_columns(counter.alias(c.CYCLE))
        .with_columns(
            step_id_expr(df, rest_fraction=REST_FRACTION, min_rows=MIN_STEP_ROWS).alias("_step")
        )
        .with_columns(_dq=dq)
        .with_columns(_q=pl.col("_dq").cum_sum().over("_step"))
        .join(steps.lazy(), on="_step", how="left", maintain_order="left")
        .filter((pl.col("_cycle") == cycle) & (pl.col("direction") != 0))
        .select(
            pl.col("direction").cast(pl.Int8),
            capacity_mAh_g=(pl.col("_before") + pl.col("_q") * pl.col("_scale")) / active_mass_g,
            voltage_V=pl.col(c.VOLTAGE_V),
        )
        .collect()
    )


def _check_cycling_input(df: Any, active_mass_g: float, specific_current: float) -> None:
    require_frame(df, (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA), what="cycling", min_rows=2)
    for name, value in (
        ("active_mass_g", active_mass_g),
        ("nominal_specific_current_mA_g", specific_current),
    ):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise AnalysisError(f"{name} must be a positive number, got {value!r}")
    require_finite_columns(df, (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA), what="cycling")
    back = df.select(pl.col(c.TIME_S).diff().arg_min()).item()
    if back is not None and df[c.TIME_S][back] < df[c.TIME_S][back - 1] - 1e-6:
        raise AnalysisError(f"time_s must not decrease: row {back} goes back in time")


def _with_step_ids(df: pl.DataFrame) -> pl.LazyFrame:
    """The rows with their step id (``_step``) and the cycle counter filled in."""
    # Rows the instrument left without a cycle number belong to the cycle around them.
    counter = optional_column(df, c.CYCLE, pl.Int64).forward_fill().backward_fill()
    return (
        df.lazy()
        .with_columns(counter.alias(c.CYCLE))
        .with_columns(
            step_id_expr(df, rest_fraction=REST_FRACTION, min_rows=MIN_STEP_ROWS).alias("_step")
        )
    )


def _step_table(df: pl.DataFrame) -> pl.DataFrame:
    """One row per step: cycle, times, mean current, counter and integrated capacity/energy."""
    i_abs = pl.col(c.CURRENT_MA).abs()
    p_abs = (pl.col(c.CURRENT_MA) * pl.col(c.VOLTAGE_V)).abs()
    # Trapezoid increments between consecutive rows; the first row of a step gets none, so a
    # step's integral never includes the gap from the previous step.
    dt_h = pl.col(c.TIME_S).diff() / 3600.0
    new_step = pl.col("_step").ne_missing(pl.col("_step").shift())

    def trapezoid(y: pl.Expr) -> pl.Expr:
        return pl.when(new_step).then(0.0).otherwise(0.5 * (y + y.shift()) * dt_h)

    has_cap, has_energy = has_values(df, c.STEP_CAPACITY_MAH), has_values(df, c.STEP_ENERGY_MWH)
    return (
        _with_step_ids(df)
        .with_columns(_q=trapezoid(i_abs), _e=trapezoid(p_abs))
        .group_by("_step", maintain_order=True)
        .agg(
            cycle=pl.col(c.CYCLE).first(),
            t_start=pl.col(c.TIME_S).first(),
            t_end=pl.col(c.TIME_S).last(),
            i_mean=pl.col(c.CURRENT_MA).mean(),
            q_int=pl.col("_q").sum(),
            e_int=pl.col("_e").sum(),
            **_counter_aggs(c.STEP_CAPACITY_MAH, "q", has_cap),
            **_counter_aggs(c.STEP_ENERGY_MWH, "e", has_energy),
        )
        .collect()
    )


def _counter_aggs(column: str, prefix: str, present: bool) -> dict[str, pl.Expr]:
    """First, last and max of an instrument's per-step counter (nulls when not exported)."""
    if not present:
        null = pl.lit(None, pl.Float64)
        return {f"{prefix}_first": null, f"{prefix}_last": null, f"{prefix}_max": null}
    col = pl.col(column)
    return {
        f"{prefix}_first": col.drop_nulls().first(),
        f"{prefix}_last": col.drop_nulls().last(),
        f"{prefix}_max": col.max(),
    }


def _counter_per_step(prefix: str) -> pl.Expr:
    """Charge (or energy) a step passed according to the instrument's counter.

    Maccor's Amp-hr resets when the direction changes, not at every step: a CV step after a CC
    step carries on from where the CC step ended. Such a continuing step is counted from the
    previous step's last value, so the two are not added twice.
    """
    first, last, peak = (pl.col(f"{prefix}_{k}") for k in ("first", "last", "max"))
    same_direction = (pl.col("direction") != 0) & (
        pl.col("direction") == pl.col("direction").shift()
    )
    continues = same_direction & (last.shift() > 0) & (first >= last.shift() * (1 - 1e-9))
    return pl.when(continues.fill_null(False)).then(peak - last.shift()).otherwise(peak)


def _classify_steps(steps: pl.DataFrame) -> pl.DataFrame:
    """Direction (+1 charge, -1 discharge, 0 rest), capacity and energy of each step."""
    threshold = steps["i_mean"].abs().max() * REST_FRACTION
    direction = (
        pl.when(pl.col("i_mean") > threshold)
        .then(1)
        .when(pl.col("i_mean") < -threshold)
        .then(-1)
        .otherwise(0)
    )
    return steps.with_columns(direction=direction).with_columns(
        q=pl.coalesce(_counter_per_step("q"), "q_int"),
        e=pl.coalesce(_counter_per_step("e"), "e_int"),
        duration_h=(pl.col("t_end") - pl.col("t_start")) / 3600.0,
    )


def _infer_cycles(steps: pl.DataFrame) -> pl.DataFrame:
    """Without a cycle counter: a cycle starts at each charge step following a discharge step.

    Rests and consecutive steps of one direction (CC then CV) stay in the running cycle.
    """
    steps = _classify_steps(steps)
    active = pl.when(pl.col("direction") != 0).then(pl.col("direction"))
    previous = active.forward_fill().shift()
    starts = ((pl.col("direction") == 1) & (previous == -1)).fill_null(False)
    return steps.with_columns(cycle=(1 + starts.cast(pl.Int64).cum_sum())).drop(
        "direction", "q", "e", "duration_h"
    )


def _cycle_table(steps: pl.DataFrame) -> pl.DataFrame:
    charge, discharge = pl.col("direction") == 1, pl.col("direction") == -1
    return (
        steps.group_by("cycle", maintain_order=True)
        .agg(
            charge_mAh=pl.col("q").filter(charge).sum(),
            discharge_mAh=pl.col("q").filter(discharge).sum(),
            charge_energy_mWh=pl.col("e").filter(charge).sum(),
            discharge_energy_mWh=pl.col("e").filter(discharge).sum(),
            _dis_q_int=pl.col("q_int").filter(discharge).sum(),
            _dis_h=pl.col("duration_h").filter(discharge).sum(),
            duration_h=(pl.col("t_end").max() - pl.col("t_start").min()) / 3600.0,
        )
        .filter((pl.col("charge_mAh") > 0) | (pl.col("discharge_mAh") > 0))
        .sort("cycle")
    )


def _ratio(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None)


def _finish_cycles(cycles: pl.DataFrame, active_mass_g: float, one_c_mA: float) -> pl.DataFrame:
    """Specific capacities, efficiency, mean voltages and C-rate, in ``PER_CYCLE_COLUMNS``."""
    exact_rate = _ratio("_dis_q_int", "_dis_h") / one_c_mA
    out = cycles.with_columns(
        charge_mAh_g=pl.col("charge_mAh") / active_mass_g,
        discharge_mAh_g=pl.col("discharge_mAh") / active_mass_g,
        coulombic_efficiency=_ratio("discharge_mAh", "charge_mAh"),
        mean_charge_voltage_V=_ratio("charge_energy_mWh", "charge_mAh"),
        mean_discharge_voltage_V=_ratio("discharge_energy_mWh", "discharge_mAh"),
        c_rate=exact_rate,
    )
    snapped = pl.Series("c_rate", snap_c_rates(out["c_rate"].to_numpy()), pl.Float64)
    return out.with_columns(snapped.fill_nan(None)).select(PER_CYCLE_COLUMNS)


def snap_c_rates(rates: np.ndarray) -> np.ndarray:
    """Snap to ``NOMINAL_C_RATES`` within 10 %, else round to two significant figures."""
    rates = np.asarray(rates, dtype=np.float64)
    out = np.full_like(rates, np.nan)
    ok = np.isfinite(rates) & (rates > 0)
    nominal = np.array(NOMINAL_C_RATES)
    r = rates[ok]
    nearest = nominal[np.argmin(np.abs(np.log(r[:, None] / nominal[None, :])), axis=1)]
    digits = 1 - np.floor(np.log10(r)).astype(int)
    rounded = np.array([round(v, d) for v, d in zip(r, digits, strict=True)])
    out[ok] = np.where(np.abs(r / nearest - 1) <= 0.10, np.round(nearest, 3), rounded)
    return out


def first_cycle_offset(cycles: pl.Series) -> int:
    """What to add to the instrument's cycle numbers so that the first cycle of the per-cycle
    table is cycle 1 (the LIMS counts from 1; Maccor counts from 0)."""
    return 1 - int(cycles.min())


# --- curves of single cycles ------------------------------------------------------------------

CURVE_COLUMNS = ("cycle", "direction", "step", "capacity_mAh", "voltage_V")


def cycle_curves(df: pl.DataFrame, cycles: list[int] | None = None) -> pl.DataFrame:
    """Voltage against the charge passed so far in each charge and each discharge of the
    chosen cycles (all cycles when None), one row per measured point, in ``CURVE_COLUMNS``.

    Cycles are numbered as in the per-cycle table from 1 (``first_cycle_offset``), found by
    the same rule (``cycle_rule``); ``direction`` is +1 for the charge, -1 for the discharge;
    ``step`` numbers the steps (a CC then a CV charge are two). ``capacity_mAh`` starts at 0
    at the start of each charge (discharge) and ends at that cycle's ``charge_mAh``
    (``discharge_mAh``) of the per-cycle table: it follows the same counter (or the same
    integral of the current) the table sums, so a curve ends where the capacity plot says.
    Rest steps are left out.
    """
    require_frame(df, (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA), what="cycling", min_rows=2)
    require_finite_columns(df, (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA), what="cycling")
    steps, _ = _cycles_by_rule(_step_table(df), df)
    steps = _classify_steps(steps)
    active = steps.filter(pl.col("direction") != 0)
    table = _cycle_table(steps)
    if table.height == 0:
        return pl.DataFrame(schema=dict.fromkeys(CURVE_COLUMNS, pl.Float64))
    half = ["cycle", "direction"]
    active = active.with_columns(
        cycle=pl.col("cycle") + first_cycle_offset(table["cycle"]),
        # Charge passed by the earlier steps of the same charge (discharge), and where this
        # step's counter starts (a Maccor CV step carries on from its CC step's count).
        q_before=pl.col("q").cum_sum().over(half) - pl.col("q"),
        q_base=pl.col("q_max") - pl.col("q"),
    )
    if cycles is not None:
        active = active.filter(pl.col("cycle").is_in(cycles))
    i_abs = pl.col(c.CURRENT_MA).abs()
    dt_h = pl.col(c.TIME_S).diff() / 3600.0
    integral = (0.5 * (i_abs + i_abs.shift()) * dt_h).fill_null(0.0).cum_sum().over("_step")
    counter = optional_column(df, c.STEP_CAPACITY_MAH, pl.Float64) - pl.col("q_base")
    in_step = pl.coalesce(counter, integral)
    return (
        _with_step_ids(df)
        .join(
            active.lazy().select("_step", "cycle", "direction", "q_before", "q_base"),
            on="_step",
            how="inner",
            suffix="_half",
            maintain_order="left",
        )
        .select(
            pl.col("cycle_half").alias("cycle"),
            pl.col("direction").cast(pl.Int8),
            pl.col("_step").alias("step"),
            (pl.col("q_before") + in_step).alias("capacity_mAh"),
            pl.col(c.VOLTAGE_V),
        )
        .collect()
    )


# --- summaries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CyclingSummary:
    """Headline numbers of a cycling test (capacities in mAh/g, efficiencies in %).

    ``retention_pct`` compares the last cycle's discharge capacity with the reference cycle's;
    ``mean_ce_pct`` averages the coulombic efficiency over ``ce_range`` (inclusive);
    ``cycle_below_threshold`` is the first cycle after the reference whose discharge capacity
    is below ``retention_threshold`` x the reference's (None if it never is).
    """

    n_cycles: int
    first_cycle: int
    last_cycle: int
    first_charge_mAh_g: float
    first_discharge_mAh_g: float
    first_ce_pct: float | None
    reference_cycle: int
    reference_discharge_mAh_g: float
    last_discharge_mAh_g: float
    retention_pct: float | None
    ce_range: tuple[int, int] | None
    mean_ce_pct: float | None
    retention_threshold: float
    cycle_below_threshold: int | None
    algorithm_version: str = ALGORITHM_VERSION

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


def _row(table: pl.DataFrame, cycle: int) -> dict[str, Any]:
    rows = table.filter(pl.col("cycle") == cycle)
    if rows.height == 0:
        raise AnalysisError(f"cycle {cycle} not in the per-cycle table")
    return rows.row(0, named=True)


def _pct(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else 100.0 * value


def summarise(
    per_cycle_df: pl.DataFrame,
    *,
    reference_cycle: int = 1,
    ce_range: tuple[int, int] | None = None,
    retention_threshold: float = 0.8,
) -> CyclingSummary:
    """Summary of a ``per_cycle`` table; ``ce_range`` defaults to the cycles after the
    reference cycle up to the last (the first cycle's irreversible loss would dominate)."""
    require_frame(per_cycle_df, PER_CYCLE_COLUMNS, what="cycling summary", min_rows=1)
    table = per_cycle_df.sort("cycle")
    first, last = table.row(0, named=True), table.row(-1, named=True)
    ref = _row(table, reference_cycle)
    if ce_range is None and last["cycle"] > reference_cycle:
        ce_range = (reference_cycle + 1, last["cycle"])
    ce_rows = table.filter(pl.col("cycle").is_between(*ce_range)) if ce_range else None
    ref_q = ref["discharge_mAh_g"]
    below = table.filter(
        (pl.col("cycle") > reference_cycle)
        & (pl.col("discharge_mAh_g") < retention_threshold * ref_q)
    )
    return CyclingSummary(
        n_cycles=table.height,
        first_cycle=first["cycle"],
        last_cycle=last["cycle"],
        first_charge_mAh_g=first["charge_mAh_g"],
        first_discharge_mAh_g=first["discharge_mAh_g"],
        first_ce_pct=_pct(first["coulombic_efficiency"]),
        reference_cycle=reference_cycle,
        reference_discharge_mAh_g=ref_q,
        last_discharge_mAh_g=last["discharge_mAh_g"],
        retention_pct=_pct(last["discharge_mAh_g"] / ref_q) if ref_q > 0 else None,
        ce_range=ce_range,
        mean_ce_pct=_pct(ce_rows["coulombic_efficiency"].mean()) if ce_rows is not None else None,
        retention_threshold=retention_threshold,
        cycle_below_threshold=below["cycle"][0] if below.height else None,
    )


def rate_table(per_cycle_df: pl.DataFrame) -> pl.DataFrame:
    """Mean discharge capacity per block of consecutive cycles at the same detected C-rate.

    Columns: c_rate, first_cycle, last_cycle, n_cycles, mean_discharge_mAh_g. A rate tested
    twice (e.g. 0.1C again at the end of a rate test) gives two blocks.
    """
    require_frame(per_cycle_df, ("cycle", "c_rate", "discharge_mAh_g"), what="rate table")
    return (
        per_cycle_df.sort("cycle")
        .filter(pl.col("c_rate").is_not_null())
        .with_columns(_block=pl.col("c_rate").rle_id())
        .group_by("_block", maintain_order=True)
        .agg(
            c_rate=pl.col("c_rate").first(),
            first_cycle=pl.col("cycle").first(),
            last_cycle=pl.col("cycle").last(),
            n_cycles=pl.len().cast(pl.Int64),
            mean_discharge_mAh_g=pl.col("discharge_mAh_g").mean(),
        )
        .drop("_block")
    )
