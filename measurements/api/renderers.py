"""Tables of measurement data (polars DataFrames) as JSON records, CSV or Parquet: whole
(the per-cycle table) or as a stream of chunks encoded batch by batch (the data endpoint's
series, `measurements.data_out`), with the same bytes either way."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

import polars as pl
import pyarrow.parquet as pq
from rest_framework import renderers

from core.api.renderers import JSONRenderer
from core.spreadsheet import FORMULA_STARTS, safe_cell
from measurements.data_out import to_bdf


def _frame(data) -> pl.DataFrame | None:
    return data if isinstance(data, pl.DataFrame) else None


class FrameJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        frame = _frame(data)
        if frame is not None:
            data = {
                "columns": frame.columns,
                "count": frame.height,
                "results": frame.fill_nan(None).to_dicts(),
            }
        return super().render(data, accepted_media_type, renderer_context)


class FrameCSVRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        frame = _frame(data)
        if frame is None:  # an error body
            return JSONRenderer().render(data)
        return b"".join(csv_chunks([frame]))


class FrameParquetRenderer(renderers.BaseRenderer):
    media_type = "application/vnd.apache.parquet"
    format = "parquet"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        frame = _frame(data)
        if frame is None:
            return JSONRenderer().render(data)
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd")
        return buffer.getvalue()


def _neutralised(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells (and column names) that a spreadsheet would run as a formula get a leading
    apostrophe, as every CSV of the API (core.spreadsheet); numbers stay numbers."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if text:
        frame = frame.with_columns(
            pl.when(pl.any_horizontal(pl.col(name).str.starts_with(c) for c in FORMULA_STARTS))
            .then(pl.lit("'") + pl.col(name))
            .otherwise(pl.col(name))
            for name in text
        )
    renamed = {name: safe_cell(name) for name in frame.columns if safe_cell(name) != name}
    return frame.rename(renamed) if renamed else frame


def csv_chunks(batches: Iterable[pl.DataFrame]) -> Iterator[bytes]:
    """CSV of the batches as one table: the header once, then each batch's rows (polars'
    number formatting, the same bytes as writing the whole frame at once)."""
    header = True
    for frame in batches:
        yield _neutralised(frame).write_csv(include_header=header).encode()
        header = False


def json_chunks(head: dict[str, Any], batches: Iterable[pl.DataFrame]) -> Iterator[bytes]:
    """`{**head, "results": [row, ...]}` as compact JSON, one chunk per batch: rows are
    objects keyed by column; NaN and infinity are null (strict JSON has neither)."""
    opening = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    yield (opening + ',"results":[').encode()
    first = True
    for frame in batches:
        if frame.height == 0:
            continue
        rows = frame.write_json()[1:-1]  # polars writes NaN and inf as null
        yield (rows if first else "," + rows).encode()
        first = False
    yield b"]}"


def parquet_file(batches: Iterable[pl.DataFrame]) -> IO[bytes]:
    """The batches encoded once as one Parquet file (zstd, as the store writes it), in an
    anonymous temporary file rewound for reading: disk, not memory, holds it."""
    out = tempfile.TemporaryFile()  # noqa: SIM115  (returned open: the response closes it)
    writer = None
    try:
        for frame in batches:
            table = frame.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema, compression="zstd")
            writer.write_table(table)
        if writer is not None:
            writer.close()
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


class FrameBDFRenderer(FrameCSVRenderer):
    """`?format=bdf`: the data endpoint streams the series itself (`data_out.to_bdf`); this
    renders its error bodies (JSON) and whole frames in BDF columns."""

    format = "bdf"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        frame = _frame(data)
        if frame is None:
            return JSONRenderer().render(data)
        return b"".join(csv_chunks([to_bdf(frame)]))


FRAME_RENDERERS = [FrameJSONRenderer, FrameCSVRenderer, FrameParquetRenderer]


class OctetStreamRenderer(renderers.BaseRenderer):
    """Raw bytes (the file itself is a FileResponse); an error body is still JSON."""

    media_type = "application/octet-stream"
    format = "raw"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return JSONRenderer().render(data)
