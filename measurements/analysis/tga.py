"""Thermogravimetry: mass-loss temperatures, extrapolated onset and residue.

Mass loss is relative to the initial mass (the first point). The extrapolated onset is where
the tangent at the steepest point of the main loss step meets the baseline fitted to the
plateau just before that step (the usual tangent construction, ISO 11358). The main step is
the one with the steepest mass loss per kelvin; it must lose at least ``min_step_pct`` in
total, otherwise there is no onset (e.g. a ceramic that loses nothing up to 600 C).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from measurements import canonical as c
from measurements.analysis import AnalysisError
from measurements.analysis._util import (
    jsonable,
    require_finite_columns,
    require_frame,
    require_within,
)

ALGORITHM_VERSION = "tga/1"
MIN_POINTS = 10
GRID_STEP_K = 1.0
SMOOTH_K = 5.0  # moving-average window of the derivative (noise in dm/dT is amplified)
BASELINE_SLOPE_FRACTION = 0.02  # plateau: |dm/dT| below this fraction of the steepest slope
BASELINE_SPAN_K = 40.0
# What a thermobalance can record: furnaces reach about 1600 C, cooled ones go to -150 C. A
# temperature outside is a corrupt row or a wrong unit, and it would set the size of the 1 K
# grid (one row at 2e7 C made a 20-million-point grid and a result of nonsense).
TEMPERATURE_RANGE_C = (-150.0, 2000.0)
# Mass relative to the first point: buoyancy and drift give a few % either way, a sample
# cannot gain tenfold or fall far below an empty crucible.
MASS_RANGE_PCT = (-100.0, 1000.0)
MAX_GRID_POINTS = int((TEMPERATURE_RANGE_C[1] - TEMPERATURE_RANGE_C[0]) / GRID_STEP_K) + 1


@dataclass(frozen=True)
class TgaResult:
    """Temperatures (C) at 1 % and 5 % mass loss (None if never reached), extrapolated onset
    (None without a main loss step), temperature of the steepest loss, and residue (%)."""

    t_1pct_loss_C: float | None
    t_5pct_loss_C: float | None
    onset_C: float | None
    steepest_loss_C: float | None
    max_loss_rate_pct_per_K: float
    residue_pct: float
    total_loss_pct: float
    final_temperature_C: float
    n_points: int
    algorithm_version: str = ALGORITHM_VERSION

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


def analyse(df: pl.DataFrame, *, min_step_pct: float = 2.0) -> TgaResult:
    """Analyse a TGA curve with canonical temperature_C and mass_pct (or mass_mg) columns."""
    temperature, mass = _curve(df)
    pct = 100.0 * mass / mass[0]
    loss = 100.0 - pct
    grid_t, grid_m = _heating_grid(temperature, pct)
    slope = _smoothed_slope(grid_t, grid_m)
    steepest = int(np.argmin(slope))
    has_step = (float(np.max(loss)) >= min_step_pct) and slope[steepest] < 0
    onset = _onset(grid_t, grid_m, slope, steepest) if has_step else None
    return TgaResult(
        t_1pct_loss_C=_temperature_at_loss(temperature, loss, 1.0),
        t_5pct_loss_C=_temperature_at_loss(temperature, loss, 5.0),
        onset_C=onset,
        steepest_loss_C=float(grid_t[steepest]) if has_step else None,
        max_loss_rate_pct_per_K=float(max(-slope[steepest], 0.0)),
        residue_pct=float(pct[-1]),
        total_loss_pct=float(np.max(loss)),
        final_temperature_C=float(temperature[-1]),
        n_points=int(temperature.size),
    )


def derivative(df: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(temperature in C, d(mass %)/dT in %/C) over the heating ramp: the smoothed slope
    ``analyse`` finds the steepest loss and the onset on, on a 1 K grid."""
    temperature, mass = _curve(df)
    grid_t, grid_m = _heating_grid(temperature, 100.0 * mass / mass[0])
    return grid_t, _smoothed_slope(grid_t, grid_m)


def _curve(df: Any) -> tuple[np.ndarray, np.ndarray]:
    """(temperature, mass) in acquisition order from mass_pct, else mass_mg."""
    require_frame(df, (c.TEMPERATURE_C,), what="TGA", min_rows=MIN_POINTS)
    complete_pct = c.MASS_PCT in df.columns and df[c.MASS_PCT].null_count() == 0
    if complete_pct or (c.MASS_PCT in df.columns and c.MASS_MG not in df.columns):
        mass_col = c.MASS_PCT
    elif c.MASS_MG in df.columns:
        mass_col = c.MASS_MG
    else:
        raise AnalysisError("column 'mass_pct' missing (TGA; nor is there 'mass_mg')")
    require_finite_columns(df, (c.TEMPERATURE_C, mass_col), what="TGA")
    temperature = df[c.TEMPERATURE_C].cast(pl.Float64).to_numpy()
    mass = df[mass_col].cast(pl.Float64).to_numpy()
    if mass[0] <= 0:
        raise AnalysisError(f"initial mass must be positive, got {mass[0]}")
    relative = 100.0 * mass / mass[0]
    require_within(
        temperature,
        TEMPERATURE_RANGE_C,
        lambda i: f"{c.TEMPERATURE_C} (C) = {temperature[i]:.6g} in row {i + 1}",
    )
    require_within(
        relative,
        MASS_RANGE_PCT,
        lambda i: f"{mass_col} (% of the first row) = {relative[i]:.6g} in row {i + 1}",
    )
    if np.ptp(temperature) < 10 * SMOOTH_K:
        raise AnalysisError(f"TGA needs a temperature ramp, got a span of {np.ptp(temperature)} K")
    return temperature, mass


def _temperature_at_loss(temperature: np.ndarray, loss: np.ndarray, level: float) -> float | None:
    """First temperature at which the loss reaches ``level`` %, linearly interpolated."""
    hits = np.flatnonzero(loss >= level)
    if hits.size == 0:
        return None
    i = int(hits[0])
    if i == 0:
        return float(temperature[0])
    frac = (level - loss[i - 1]) / (loss[i] - loss[i - 1])
    return float(temperature[i - 1] + frac * (temperature[i] - temperature[i - 1]))


def _heating_grid(temperature: np.ndarray, pct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mass on a uniform temperature grid over the heating ramp.

    Only points that set a new maximum temperature are used, which drops isothermal holds
    and the jitter of the sample thermocouple, so mass is a function of temperature.
    """
    previous_max = np.maximum.accumulate(np.concatenate([[-np.inf], temperature[:-1]]))
    rising = temperature > previous_max
    t, m = temperature[rising], pct[rising]
    if (t[-1] - t[0]) / GRID_STEP_K > MAX_GRID_POINTS:  # the range check above makes this moot
        raise AnalysisError(f"TGA heating ramp of {t[-1] - t[0]:.3g} K is too wide")
    grid = np.arange(t[0], t[-1], GRID_STEP_K)
    if grid.size < 3 * SMOOTH_K:
        raise AnalysisError(f"TGA heating ramp too short: {t[-1] - t[0]:.1f} K")
    return grid, np.interp(grid, t, m)


def _smoothed_slope(grid_t: np.ndarray, grid_m: np.ndarray) -> np.ndarray:
    """dm/dT (%/K) of a moving average over ``SMOOTH_K``."""
    width = max(int(round(SMOOTH_K / GRID_STEP_K)), 1)
    kernel = np.ones(width) / width
    padded = np.pad(grid_m, (width // 2, width - 1 - width // 2), mode="edge")
    return np.gradient(np.convolve(padded, kernel, mode="valid"), grid_t)


def _onset(grid_t: np.ndarray, grid_m: np.ndarray, slope: np.ndarray, steepest: int) -> float:
    """Intersection of the tangent at the steepest point with the pre-step baseline."""
    flat = np.abs(slope[:steepest]) < BASELINE_SLOPE_FRACTION * abs(slope[steepest])
    if not np.any(flat):
        return float(grid_t[0])  # the step starts at once: no baseline before it
    end = int(np.flatnonzero(flat)[-1])
    window = (
        (grid_t <= grid_t[end])
        & (grid_t >= grid_t[end] - BASELINE_SPAN_K)
        & (np.arange(grid_t.size) < steepest)
    )
    window &= np.abs(slope) < BASELINE_SLOPE_FRACTION * abs(slope[steepest])
    b1, b0 = (
        np.polyfit(grid_t[window], grid_m[window], 1) if window.sum() >= 2 else (0.0, grid_m[end])
    )
    s, t_s, m_s = slope[steepest], grid_t[steepest], grid_m[steepest]
    # Baseline b0 + b1 T meets tangent m_s + s (T - t_s).
    return float((m_s - s * t_s - b0) / (b1 - s))
