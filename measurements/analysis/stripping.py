"""Li stripping/plating in symmetric Li|...|Li cells: overpotential, failure and short circuit.

The programme alternates +j and -j (2 h each in the paper) with an OCV rest after every 12 h.
Each current step is a half cycle; its overpotential is the median |V| over the late part
of the step (the last ``late_fraction`` of its duration), where the voltage has settled.

Criteria, compared with a running reference = median overpotential of the preceding
``reference_window`` half cycles:

- failure: the overpotential exceeds ``failure_factor`` x reference (or the absolute
  ``failure_threshold_V`` when given) for ``failure_consecutive`` half cycles in a row;
- short circuit: under current the overpotential collapses, below ``short_threshold_V`` or
  below ``short_fraction`` x reference, for ``short_consecutive`` half cycles in a row.

Times reported are the start of the first half cycle of the offending run. Polarization
growth is measured over the healthy part of the test (before failure or short).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from measurements import canonical as c
from measurements.analysis import AnalysisError
from measurements.analysis._util import (
    jsonable,
    require_finite_columns,
    require_frame,
    step_id_expr,
)

ALGORITHM_VERSION = "stripping/1"
REST_FRACTION = 0.05
MIN_STEP_ROWS = 3
EDGE_HALF_CYCLES = 3  # how many half cycles make the "first" and "last" overpotential

HALF_CYCLE_COLUMNS = ("index", "start_h", "end_h", "current_mA", "overpotential_V")


@dataclass(frozen=True)
class StrippingResult:
    """Per-half-cycle table and the test's verdict.

    ``polarization_slope_mV_h`` is the least-squares slope of overpotential vs time and
    ``polarization_ratio`` the median of the last three half cycles over that of the first
    three, both over the healthy part (before failure or short circuit).
    """

    half_cycles: pl.DataFrame = field(repr=False)
    n_half_cycles: int
    duration_h: float
    initial_overpotential_V: float
    final_overpotential_V: float
    median_overpotential_V: float
    polarization_slope_mV_h: float | None
    polarization_ratio: float | None
    failure_time_h: float | None
    short_circuit_time_h: float | None
    criteria: dict[str, float | int | None]
    algorithm_version: str = ALGORITHM_VERSION

    @property
    def failed(self) -> bool:
        return self.failure_time_h is not None or self.short_circuit_time_h is not None

    def to_dict(self) -> dict[str, Any]:
        out = jsonable(self)
        out["failed"] = self.failed
        return out


def analyse(
    df: pl.DataFrame,
    *,
    failure_factor: float = 2.0,
    failure_threshold_V: float | None = None,
    failure_consecutive: int = 2,
    short_threshold_V: float | None = 0.005,
    short_fraction: float = 0.2,
    short_consecutive: int = 3,
    reference_window: int = 10,
    late_fraction: float = 0.5,
) -> StrippingResult:
    """Analyse a stripping/plating trace (canonical time_s, voltage_V, current_mA, step)."""
    _check_input(df, late_fraction, failure_consecutive, short_consecutive, reference_window)
    criteria = {
        "failure_factor": failure_factor,
        "failure_threshold_V": failure_threshold_V,
        "failure_consecutive": failure_consecutive,
        "short_threshold_V": short_threshold_V,
        "short_fraction": short_fraction,
        "short_consecutive": short_consecutive,
        "reference_window": reference_window,
        "late_fraction": late_fraction,
    }
    table = half_cycles(df, late_fraction=late_fraction)
    eta = table["overpotential_V"].to_numpy()
    ref = _reference(table["overpotential_V"], reference_window)
    with np.errstate(invalid="ignore"):  # the first half cycle has no reference (NaN)
        too_high = eta > failure_factor * ref
        collapsed = eta < short_fraction * ref
    if failure_threshold_V is not None:
        too_high |= eta > failure_threshold_V
    if short_threshold_V is not None:
        collapsed |= eta < short_threshold_V
    failure = _first_run(too_high, failure_consecutive)
    short = _first_run(collapsed, short_consecutive)
    return _result(table, failure, short, criteria)


def _check_input(
    df: Any, late_fraction: float, failure_consecutive: int, short_consecutive: int, window: int
) -> None:
    require_frame(df, (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA), what="stripping/plating")
    require_finite_columns(df, (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA), what="stripping/plating")
    if not 0 < late_fraction <= 1:
        raise AnalysisError(f"late_fraction must be in (0, 1], got {late_fraction}")
    for name, value in (
        ("failure_consecutive", failure_consecutive),
        ("short_consecutive", short_consecutive),
        ("reference_window", window),
    ):
        if value < 1:
            raise AnalysisError(f"{name} must be at least 1, got {value}")


def half_cycles(df: pl.DataFrame, *, late_fraction: float = 0.5) -> pl.DataFrame:
    """One row per current step: index, start_h, end_h, current_mA (mean, signed) and
    overpotential_V (median |V| over the last ``late_fraction`` of the step's duration)."""
    t = pl.col(c.TIME_S)
    late = t >= t.first() + (1 - late_fraction) * (t.last() - t.first())
    table = _per_half_cycle(df, overpotential_V=pl.col(c.VOLTAGE_V).abs().filter(late).median())
    return table.with_columns(index=pl.int_range(1, pl.len() + 1)).select(HALF_CYCLE_COLUMNS)


def with_half_cycle_ids(df: pl.DataFrame) -> pl.DataFrame:
    """The rows with a ``half_cycle`` column numbering the current steps (rests included),
    as ``half_cycles`` splits them."""
    return df.with_columns(
        half_cycle=step_id_expr(df, rest_fraction=REST_FRACTION, min_rows=MIN_STEP_ROWS)
    )


def envelope(df: pl.DataFrame) -> pl.DataFrame:
    """One row per half cycle (rests left out): start_h, end_h, current_mA (mean, signed),
    v_max and v_min (the largest and smallest voltage of the half cycle, in V). The voltage
    farthest from zero, against time, is the overpotential's envelope."""
    require_frame(df, (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA), what="stripping/plating")
    return _per_half_cycle(
        df, v_max=pl.col(c.VOLTAGE_V).max(), v_min=pl.col(c.VOLTAGE_V).min()
    ).drop("half_cycle")


def _per_half_cycle(df: pl.DataFrame, **aggs: pl.Expr) -> pl.DataFrame:
    """start_h, end_h, mean current_mA and ``aggs`` of each current step; rests (mean |I|
    within ``REST_FRACTION`` of the largest) left out."""
    t = pl.col(c.TIME_S)
    table = (
        with_half_cycle_ids(df)
        .lazy()
        .group_by("half_cycle", maintain_order=True)
        .agg(
            start_h=t.first() / 3600.0,
            end_h=t.last() / 3600.0,
            current_mA=pl.col(c.CURRENT_MA).mean(),
            **aggs,
        )
        .collect()
    )
    threshold = table["current_mA"].abs().max() * REST_FRACTION
    table = table.filter(pl.col("current_mA").abs() > threshold)
    if table.height == 0:
        raise AnalysisError("no current steps found: the current is zero throughout")
    return table


def _reference(eta: pl.Series, window: int) -> np.ndarray:
    """Median of the preceding ``window`` half cycles (NaN for the first, which has none)."""
    ref = eta.shift(1).rolling_median(window_size=window, min_samples=1)
    return ref.fill_null(float("nan")).to_numpy()


def _first_run(flags: np.ndarray, length: int) -> int | None:
    """Index of the first run of at least ``length`` consecutive True values, or None."""
    if length == 1:
        hits = np.flatnonzero(flags)
        return int(hits[0]) if hits.size else None
    window = np.convolve(flags.astype(int), np.ones(length, dtype=int), mode="valid")
    hits = np.flatnonzero(window == length)
    return int(hits[0]) if hits.size else None


def _growth(eta: np.ndarray, mid_h: np.ndarray) -> tuple[float | None, float | None]:
    """(slope in mV/h, last/first ratio) over the given half cycles."""
    if eta.size < 2 or np.ptp(mid_h) == 0:
        return None, None
    slope = float(np.polyfit(mid_h, eta * 1e3, 1)[0])
    k = min(EDGE_HALF_CYCLES, eta.size)
    first = float(np.median(eta[:k]))
    ratio = float(np.median(eta[-k:])) / first if first > 0 else None
    return slope, ratio


def _result(
    table: pl.DataFrame, failure: int | None, short: int | None, criteria: dict[str, Any]
) -> StrippingResult:
    eta = table["overpotential_V"].to_numpy()
    start_h = table["start_h"].to_numpy()
    mid_h = 0.5 * (start_h + table["end_h"].to_numpy())
    healthy = slice(0, max(min(i for i in (failure, short, eta.size) if i is not None), 1))
    slope, ratio = _growth(eta[healthy], mid_h[healthy])
    k = min(EDGE_HALF_CYCLES, eta.size)
    return StrippingResult(
        half_cycles=table,
        n_half_cycles=table.height,
        duration_h=float(table["end_h"].max() - table["start_h"].min()),
        initial_overpotential_V=float(np.median(eta[:k])),
        final_overpotential_V=float(np.median(eta[-k:])),
        median_overpotential_V=float(np.median(eta[healthy])),
        polarization_slope_mV_h=slope,
        polarization_ratio=ratio,
        failure_time_h=None if failure is None else float(start_h[failure]),
        short_circuit_time_h=None if short is None else float(start_h[short]),
        criteria=criteria,
    )
