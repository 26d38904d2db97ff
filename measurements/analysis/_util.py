"""Input validation and JSON conversion shared by the analysis modules."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import polars as pl

from measurements.analysis import AnalysisError
from measurements.canonical import CURRENT_MA, CYCLE, STEP


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and DataFrames to JSON values; NaN/inf -> None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, pl.DataFrame):
        return {name: jsonable(value[name].to_list()) for name in value.columns}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def finite_array(values: Any, name: str, *, min_points: int = 1) -> np.ndarray:
    """A 1-D float64 array of at least ``min_points`` finite values, or AnalysisError."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim != 1:
        raise AnalysisError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size < min_points:
        raise AnalysisError(f"{name} needs at least {min_points} points, got {arr.size}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise AnalysisError(f"{name} has a non-finite value at index {int(bad[0])}")
    return arr


def same_length(**arrays: np.ndarray) -> None:
    """AnalysisError unless all arrays have the same length."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise AnalysisError(f"arrays differ in length: {described}")


def require_within(
    values: np.ndarray, bounds: tuple[float, float], describe: Callable[[int], str]
) -> None:
    """AnalysisError for the first value outside ``bounds`` (physically impossible: a corrupt
    row or a wrong unit); ``describe(index)`` names it in the user's words (column, row)."""
    lo, hi = bounds
    bad = np.flatnonzero((values < lo) | (values > hi))
    if bad.size:
        raise AnalysisError(
            f"{describe(int(bad[0]))} is outside {lo:g} to {hi:g}: a corrupt row or a wrong unit"
        )


def require_frame(df: Any, columns: Iterable[str], *, what: str, min_rows: int = 1) -> None:
    """AnalysisError unless ``df`` is a polars DataFrame with the columns and enough rows."""
    if not isinstance(df, pl.DataFrame):
        raise AnalysisError(f"{what} needs a polars DataFrame, got {type(df).__name__}")
    for column in columns:
        if column not in df.columns:
            raise AnalysisError(f"column '{column}' missing ({what})")
    if df.height < min_rows:
        raise AnalysisError(f"{what} needs at least {min_rows} rows, got {df.height}")


def has_values(df: pl.DataFrame, column: str) -> bool:
    """True when the column exists and is not entirely null."""
    return column in df.columns and df[column].null_count() < df.height


def require_finite_columns(df: pl.DataFrame, columns: Iterable[str], *, what: str) -> None:
    """AnalysisError naming the first column with a null or non-finite value."""
    cols = list(columns)
    flags = df.select(
        [(pl.col(c).cast(pl.Float64).is_finite().fill_null(False).all()).alias(c) for c in cols]
    ).row(0)
    for column, ok in zip(cols, flags, strict=True):
        if not ok:
            raise AnalysisError(f"column '{column}' has null or non-finite values ({what})")


def debounced_sign(current: pl.Expr, zero_threshold: pl.Expr | float, min_run: int) -> pl.Expr:
    """Sign of the current (-1, 0, +1) with runs shorter than ``min_run`` rows absorbed.

    A single logged point with the wrong sign (a common instrument glitch) would otherwise start
    a new step and mis-pair every later cycle; such a run takes the sign of the run before it.
    """
    sign = (
        pl.when(current > zero_threshold)
        .then(1)
        .when(current < -zero_threshold)
        .then(-1)
        .otherwise(0)
        .cast(pl.Int8)
    )
    run = sign.rle_id()
    short = pl.len().over(run) < min_run
    return pl.when(short).then(None).otherwise(sign).forward_fill().backward_fill()


def optional_column(df: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    """The column, or a null literal of ``dtype`` when the frame does not have it."""
    return pl.col(name) if name in df.columns else pl.lit(None, dtype=dtype).alias(name)


def step_id_expr(df: pl.DataFrame, *, rest_fraction: float, min_rows: int) -> pl.Expr:
    """Row -> step id for a time series with canonical columns.

    A new step starts wherever the instrument's step counter (or cycle counter) changes, or,
    without a step counter, wherever the debounced sign of the current changes (|I| below
    ``rest_fraction`` x max |I| counts as zero current).
    """
    cycle = optional_column(df, CYCLE, pl.Int64)
    if has_values(df, STEP):
        return pl.struct(pl.col(STEP).forward_fill(), cycle).rle_id()
    threshold = pl.col(CURRENT_MA).abs().max() * rest_fraction
    return pl.struct(debounced_sign(pl.col(CURRENT_MA), threshold, min_rows), cycle).rle_id()
