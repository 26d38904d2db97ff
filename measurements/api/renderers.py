"""Tables of measurement data (polars DataFrames) as JSON records, CSV or Parquet."""

from __future__ import annotations

import io

import polars as pl
from rest_framework import renderers

from core.api.renderers import JSONRenderer


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
        return frame.write_csv().encode()


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


FRAME_RENDERERS = [FrameJSONRenderer, FrameCSVRenderer, FrameParquetRenderer]


class OctetStreamRenderer(renderers.BaseRenderer):
    """Raw bytes (the file itself is a FileResponse); an error body is still JSON."""

    media_type = "application/octet-stream"
    format = "raw"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return JSONRenderer().render(data)
