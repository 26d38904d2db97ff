"""`GET /api/measurements/<code>/data/`: the parsed series at any size, in bounded memory.

- Parquet: a series that is one stored object (one file, not thinned) is served as the stored
  bytes, streamed from the store; a thinned or joined one is encoded once, batch by batch,
  into a temporary file that is then streamed.
- CSV: streamed, encoded batch by batch; `?format=bdf` streams cycling data as Battery Data
  Format CSV (`data_out.to_bdf`: BDF column labels and units).
- JSON: rows are Python-sized, so an answer carries at most `LIMS_DATA_JSON_MAX_ROWS` rows:
  a page (`offset`, `limit`, with `next`/`previous` links), or the whole (thinned) series when
  it fits; above that the request is refused with 400 naming what would fit. Also streamed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.http import FileResponse, Http404, StreamingHttpResponse
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core.api.serializers import QuerySerializer
from measurements import data_out, selectors, storage
from measurements.models import Measurement

from .renderers import FrameParquetRenderer, csv_chunks, json_chunks, parquet_file

# `every` beyond any series' length gives one row; the bound keeps the number machine-sized.
MAX_EVERY = 1_000_000_000
MAX_OFFSET = 10**12


def max_json_rows() -> int:
    return settings.LIMS_DATA_JSON_MAX_ROWS


class DataQuerySerializer(QuerySerializer):
    every = serializers.IntegerField(
        required=False,
        default=1,
        min_value=1,
        max_value=MAX_EVERY,
        help_text="keep every n-th row (thin a long series); `offset` and `limit` then count "
        "the kept rows",
    )
    offset = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=MAX_OFFSET,
        help_text="JSON: the first row of the page (0-based)",
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="JSON: rows in the page, at most `LIMS_DATA_JSON_MAX_ROWS` (default 200000); "
        "without it, every row from `offset`, refused when more than that",
    )

    def validate_limit(self, value: int) -> int:
        if value > max_json_rows():
            raise serializers.ValidationError(
                f"Must be at most {max_json_rows()} (rows of one JSON page); "
                "?format=parquet or ?format=csv stream the whole series."
            )
        return value


class _Stream:
    """Chunks for a StreamingHttpResponse that release the stored objects when the response
    is closed, even if it was never iterated (a client gone before the first byte)."""

    def __init__(self, chunks: Iterable[bytes], close: Callable[[], None]):
        self._chunks, self.close = chunks, close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)


def too_many_rows(rows: int, thinned: int, every: int) -> Response:
    limit = max_json_rows()
    fits = -(-rows // limit)
    return Response(
        {
            "detail": f"The series has {thinned:,} rows{' after thinning' if every > 1 else ''}; "
            f"a JSON answer carries at most {limit:,}. Ask for every n-th row (?every={fits} "
            f"fits), for pages (?limit={limit}, then follow `next`), or for the whole series "
            "as ?format=parquet or ?format=csv (streamed, no limit).",
            "rows": thinned,
            "max_rows": limit,
            "every": fits,
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


def data_response(request, measurement: Measurement, query: dict):
    """The answer for the view: a streamed file or page, or a Response (an error)."""
    keys = selectors.parsed_keys(measurement)
    not_parsed = Http404("No parsed data yet: the measurement has not been processed.")
    if keys is None:
        raise not_parsed
    fmt, every, code = request.accepted_renderer.format, query["every"], measurement.code
    if fmt == "parquet" and len(keys) == 1 and every == 1:
        try:  # the stored object is the series: its bytes as they are, never re-encoded
            handle = storage.stream_derived(keys[0])
        except FileNotFoundError:
            raise not_parsed from None
        return _parquet(handle, code)
    try:
        series = data_out.StoredSeries.open(keys)
    except FileNotFoundError:
        raise not_parsed from None
    if fmt == "parquet":  # thinned, or files joined: encoded once
        try:
            encoded = parquet_file(series.batches(every=every))
        finally:
            series.close()
        return _parquet(encoded, code)
    if fmt in ("csv", "bdf"):
        batches = series.batches(every=every)
        if fmt == "bdf":
            if not data_out.is_bdf_series(series.columns()):
                series.close()
                raise ValidationError(
                    {
                        "format": [
                            f"BDF holds cycler time series (time, voltage, current); "
                            f"{code} is {measurement.get_technique_display()} data."
                        ]
                    }
                )
            batches, code = map(data_out.to_bdf, batches), f"{code}.bdf"
        stream = _Stream(csv_chunks(batches), series.close)
        response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{code}.csv"'
        return response
    try:
        return _json_page(request, series, query)
    except BaseException:
        series.close()
        raise


def _parquet(handle, code: str) -> FileResponse:
    return FileResponse(
        handle,  # closed by the response once sent
        as_attachment=True,
        filename=f"{code}.parquet",
        content_type=FrameParquetRenderer.media_type,
    )


def _json_page(request, series: data_out.StoredSeries, query: dict):
    every, offset, limit = query["every"], query["offset"], query.get("limit")
    total = series.thinned_rows(every)
    if limit is None and total - offset > max_json_rows():
        series.close()
        return too_many_rows(series.rows, total, every)
    end = total if limit is None else min(offset + limit, total)
    step = limit or max_json_rows()  # the page size of the links
    url = request.build_absolute_uri()
    head = {
        "count": total,
        "next": _link(url, end, step) if end < total else None,
        "previous": _link(url, max(offset - step, 0), min(step, offset)) if offset else None,
        "columns": series.columns(),
    }
    if end > offset:
        batches = series.batches(every=every, start=offset * every, stop=(end - 1) * every + 1)
    else:  # past the end: no rows, the columns still
        batches = iter([])
    stream = _Stream(json_chunks(head, batches), series.close)
    return StreamingHttpResponse(stream, content_type="application/json")


def _link(url: str, offset: int, limit: int) -> str:
    return replace_query_param(replace_query_param(url, "offset", offset), "limit", limit)
