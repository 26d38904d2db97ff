"""A measurement's parsed series read from the store in bounded row batches, for the data
endpoint: a 1.5-million-row test is never one frame in the web process.

The batches are, concatenated, exactly `selectors.parsed_frame`: the files of a test joined as
continuations (`compute.join_continuations`: each file's time and cycle counters continue from
the previous file's), with the same values, columns and dtypes. `every` thins (every n-th row
of the joined series, as `DataFrame.gather_every`), `start`/`stop` slice it (rows of the joined
series before thinning), and only the Parquet row groups that overlap the slice are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import polars as pl
import pyarrow.parquet as pq

from . import storage
from .canonical import (
    CURRENT_MA,
    CYCLE,
    STEP,
    STEP_CAPACITY_MAH,
    STEP_ENERGY_MWH,
    TIME_S,
    VOLTAGE_V,
)

# Rows per batch: 65,536 rows of the cycling columns are about 4 MB as Arrow and 10 MB as JSON
# text, so a request's memory stays flat whatever the series' length.
BATCH_ROWS = 65_536


class StoredSeries:
    """The stored Parquet objects of one test (`keys`, in order), open for batch reads.
    `open` raises FileNotFoundError when an object is gone; close() releases the handles."""

    def __init__(self, handles: list, files: list[pq.ParquetFile]):
        self._handles, self._files = handles, files
        self._offsets: list[tuple[float, int, bool]] | None = None

    @classmethod
    def open(cls, keys: Sequence[str]) -> StoredSeries:
        handles: list = []
        try:
            for key in keys:
                handles.append(storage.open_derived(key))
            return cls(handles, [pq.ParquetFile(handle) for handle in handles])
        except BaseException:
            for handle in handles:
                handle.close()
            raise

    def close(self) -> None:
        for handle in self._handles:
            handle.close()

    @property
    def joined(self) -> bool:
        return len(self._files) > 1

    @property
    def rows(self) -> int:
        """Rows of the whole (joined) series, from the Parquet footers: nothing else read."""
        return sum(f.metadata.num_rows for f in self._files)

    def thinned_rows(self, every: int = 1) -> int:
        return -(-self.rows // every)

    def columns(self) -> list[str]:
        return self._template().columns

    def _template(self) -> pl.DataFrame:
        """An empty frame with the joined series' columns and dtypes: what concatenating the
        shifted files "diagonal_relaxed" gives (supertypes depend on dtypes only)."""
        empties = [pl.from_arrow(f.schema_arrow.empty_table()) for f in self._files]
        if not self.joined:
            return empties[0]
        shifted = [self._shift(frame, i) for i, frame in enumerate(empties)]
        return pl.concat(shifted, how="diagonal_relaxed")

    def _file_offsets(self) -> list[tuple[float, int, bool]]:
        """(time offset, cycle offset, whether the cycle is shifted) of each file, as
        `join_continuations` computes them; reads only the time and cycle columns."""
        if self._offsets is not None:
            return self._offsets
        offsets, t_offset, c_offset = [], 0.0, 0
        for f in self._files:
            names = f.schema_arrow.names
            columns = [c for c in (TIME_S, CYCLE) if c in names]
            t_max, c_max, has_cycle = [], [], False
            for batch in f.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                part = pl.from_arrow(batch)
                t_max.append((part[TIME_S] + t_offset).max())
                if CYCLE in part.columns and part[CYCLE].null_count() < part.height:
                    has_cycle = True
                    c_max.append(part[CYCLE].max())
            offsets.append((t_offset, c_offset, has_cycle))
            if has_cycle:
                c_offset = int(pl.Series(c_max).max() + c_offset) + 1
            t_offset = float(pl.Series(t_max, dtype=pl.Float64).max() or t_offset)
        self._offsets = offsets
        return offsets

    def _shift(self, frame: pl.DataFrame, index: int) -> pl.DataFrame:
        if not self.joined:
            return frame
        if frame.height == 0 and self._offsets is None:  # dtypes only: any offset will do
            t_offset, c_offset, has_cycle = 0.0, 0, CYCLE in frame.columns
        else:
            t_offset, c_offset, has_cycle = self._file_offsets()[index]
        frame = frame.with_columns(pl.col(TIME_S) + t_offset)
        return frame.with_columns(pl.col(CYCLE) + c_offset) if has_cycle else frame

    def batches(
        self, *, every: int = 1, start: int = 0, stop: int | None = None
    ) -> Iterator[pl.DataFrame]:
        """The rows start, start + every, ... (below stop) of the joined series, in frames of
        at most BATCH_ROWS rows; always at least one frame, so an empty series still has its
        columns."""
        stop = self.rows if stop is None else min(stop, self.rows)
        template = self._template()
        yielded = False
        base = 0  # first row of the current file in the joined series
        for index, f in enumerate(self._files):
            for group in range(f.metadata.num_row_groups):
                first = base
                base += f.metadata.row_group(group).num_rows
                if base <= start or first >= stop:
                    continue
                for batch in f.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
                    position, first = first, first + batch.num_rows
                    lo, hi = max(start - position, 0), min(stop - position, batch.num_rows)
                    if hi <= lo:
                        continue
                    frame = pl.from_arrow(batch.slice(lo, hi - lo))
                    if every > 1:  # keep the rows start + k * every of the joined series
                        frame = frame[(start - position - lo) % every :: every]
                    if frame.height == 0:
                        continue
                    if self.joined:
                        frame = pl.concat(
                            [template, self._shift(frame, index)], how="diagonal_relaxed"
                        )
                    yielded = True
                    yield frame
        if not yielded:
            yield template


# --- Battery Data Format (BDF) ----------------------------------------------------------------
# The Battery Data Alliance's CSV for cycler time series (battery-data-alliance/
# battery-data-format), which navani and cellpy read: fixed column labels with SI units in them,
# current > 0 on charge (as the canonical columns already are). Canonical column -> (BDF
# preferred label, factor to the BDF unit).
BDF_COLUMNS = {
    TIME_S: ("Test Time / s", 1.0),
    VOLTAGE_V: ("Voltage / V", 1.0),
    CURRENT_MA: ("Current / A", 1e-3),
    CYCLE: ("Cycle Count / 1", 1),
    STEP: ("Step Index / 1", 1),
    STEP_CAPACITY_MAH: ("Step Capacity / Ah", 1e-3),
    STEP_ENERGY_MWH: ("Step Energy / Wh", 1e-3),
}
BDF_REQUIRED = (TIME_S, VOLTAGE_V, CURRENT_MA)


def is_bdf_series(columns: Sequence[str]) -> bool:
    """Whether a series is a cycler time series (time, voltage, current): what BDF holds."""
    return all(name in columns for name in BDF_REQUIRED)


def to_bdf(frame: pl.DataFrame) -> pl.DataFrame:
    """A batch of canonical cycling columns as BDF columns, in BDF units and order; columns
    BDF does not define are left out (the file stays strictly BDF)."""
    return frame.select(
        (pl.col(name) * factor if factor != 1 else pl.col(name)).alias(label)
        for name, (label, factor) in BDF_COLUMNS.items()
        if name in frame.columns
    )
