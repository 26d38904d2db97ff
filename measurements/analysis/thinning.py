"""Thinning long series for display without changing their shape.

A plot of 1.5 million points is slow to send and to draw, and no screen shows more than a few
thousand. Taking every n-th row (``gather_every``) loses what matters on a battery curve: the
ends of each step (the voltage jump where the current changes direction, the cut-off voltage)
and the spikes (a short circuit lasting a few rows). ``thin`` keeps them instead:

- the rows are split into groups (steps or half cycles), and the budget is shared among them;
- each group's x range is cut into equal buckets, and each bucket keeps its first and last
  row and the rows of its lowest and highest y (the M4 reduction of Jugel et al., VLDB 2014:
  a line through these four points per pixel column draws the same picture as all rows);
- so every group keeps its first and last row and its y extremes, whatever the budget.

The result has at most ``max(max_points, 4 x groups)`` rows, in the original order.
"""

from __future__ import annotations

import polars as pl

from measurements.analysis import AnalysisError
from measurements.analysis._util import require_frame

POINTS_PER_BUCKET = 4  # first, last, min, max


def thin(
    frame: pl.DataFrame,
    *,
    x: str,
    y: str,
    group: str | None = None,
    max_points: int = 4000,
) -> pl.DataFrame:
    """The rows of ``frame`` a plot of ``y`` against ``x`` needs (see the module docstring).

    ``group`` names a column whose runs of equal values are the groups (a step or half-cycle
    id); without it the whole frame is one group. Null or non-finite ``x``/``y`` rows are
    kept only where the M4 rule picks them by position (first/last of a bucket).
    """
    require_frame(frame, [x, y] + ([group] if group else []), what="thinning", min_rows=0)
    if max_points < POINTS_PER_BUCKET:
        raise AnalysisError(f"max_points must be at least {POINTS_PER_BUCKET}, got {max_points}")
    if frame.height <= max_points:
        return frame
    runs = pl.col(group).rle_id() if group else pl.lit(0, pl.UInt32)
    work = frame.lazy().with_row_index("_row").with_columns(_g=runs)
    n_groups = work.select(pl.col("_g").max() + 1).collect().item()
    buckets = max(1, max_points // (POINTS_PER_BUCKET * n_groups))
    # A NaN or infinite x has no place on the axis: it goes to the group's first bucket (a
    # NaN bucket index would fail the integer cast, and an inf span makes every index NaN).
    raw_x = pl.col(x).cast(pl.Float64)
    xv = pl.when(raw_x.is_finite()).then(raw_x)
    x0, x1 = xv.min().over("_g"), xv.max().over("_g")
    span = pl.when(x1 > x0).then(x1 - x0).otherwise(1.0)
    # Bucket by x, not by row, so unevenly logged data (Maccor logs on a voltage change) is
    # cut into equal stretches of the axis a screen shows.
    bucket = (
        ((xv - x0) / span * buckets)
        .floor()
        .fill_nan(None)
        .clip(0, buckets - 1)
        .fill_null(0)
        .cast(pl.Int64)
    )
    yv = pl.col(y).cast(pl.Float64).fill_nan(None)
    kept = (
        work.with_columns(_b=bucket)
        .group_by("_g", "_b")
        .agg(
            pl.col("_row").first().alias("first"),
            pl.col("_row").last().alias("last"),
            pl.col("_row").get(yv.arg_min()).alias("low"),
            pl.col("_row").get(yv.arg_max()).alias("high"),
        )
        .select(pl.concat_list("first", "last", "low", "high").alias("_row"))
        .explode("_row")
        .drop_nulls()
        .unique()
        .sort("_row")
        .collect()
    )["_row"]
    return frame[kept.to_numpy()]
