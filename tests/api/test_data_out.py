"""`/api/measurements/<code>/data/` at any size: the stored Parquet served as it is, CSV and
JSON streamed in batches with the same content as the whole-frame answers they replace, JSON
bounded and paged, parameters checked. On real instrument files."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlsplit

import polars as pl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from measurements import compute, data_out, selectors, services, storage
from measurements.models import Measurement
from tests import factories
from tests.instrument_files import instrument_file

MACCOR = "cellpy/maccor_three.txt"  # 4,009 rows, 15 cycles
NDA = "newarenda/TestFile.nda"  # 6,670 rows, another instrument's columns
NDAX = "cellpy/20260302_IFE_BTS85_2_9_8_1.ndax"  # 252,951 rows: more than one JSON answer


def _upload(name: str) -> SimpleUploadedFile:
    path = instrument_file(name)
    return SimpleUploadedFile(path.name, path.read_bytes())


def _measure(capture, *names: str) -> Measurement:
    with capture(execute=True):
        m = services.measurement_create(
            item=factories.full_cell(),
            fields={"technique": "cycling"},
            uploads=[_upload(name) for name in names],
        )
    m.refresh_from_db()
    assert m.status in ("done", "done_with_warnings"), m.status_detail
    return m


def _body(response) -> bytes:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def _json(response) -> dict:
    return json.loads(_body(response))


def _before(frame: pl.DataFrame) -> dict:
    """What the endpoint answered before it streamed (FrameJSONRenderer on the whole frame),
    as parsed JSON."""
    return {"columns": frame.columns, "count": frame.height, "results": _rows(frame)}


def _rows(frame: pl.DataFrame) -> list[dict]:
    return json.loads(json.dumps(frame.fill_nan(None).to_dicts()))


@pytest.fixture
def maccor(db, django_capture_on_commit_callbacks):
    return _measure(django_capture_on_commit_callbacks, MACCOR)


def test_parquet_is_the_stored_object_byte_for_byte(api, maccor):
    response = api.get(f"/api/measurements/{maccor.code}/data/?format=parquet")
    served = _body(response)
    key = maccor.files.get().parsed_path
    with storage.open_derived(key) as stored:
        assert served == stored.read()
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    assert response["Content-Disposition"] == f'attachment; filename="{maccor.code}.parquet"'
    # The same columns (units in their names), dtypes and values the re-encoding served.
    frame = selectors.parsed_frame(maccor)
    assert pl.read_parquet(io.BytesIO(served)).equals(frame)
    encoded = io.BytesIO()
    frame.write_parquet(encoded, compression="zstd")
    assert served == encoded.getvalue()


def test_csv_streams_the_same_bytes_as_the_whole_frame_did(api, maccor, monkeypatch):
    monkeypatch.setattr(data_out, "BATCH_ROWS", 1000)  # several batches of a 4,009-row file
    response = api.get(f"/api/measurements/{maccor.code}/data/?format=csv")
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    frame = selectors.parsed_frame(maccor)
    assert _body(response) == frame.write_csv().encode()
    thinned = _body(api.get(f"/api/measurements/{maccor.code}/data/?format=csv&every=7"))
    assert thinned == frame.gather_every(7).write_csv().encode()


def test_json_has_the_values_of_the_whole_frame_answer(api, maccor, monkeypatch):
    monkeypatch.setattr(data_out, "BATCH_ROWS", 1000)
    frame = selectors.parsed_frame(maccor)
    body = _json(api.get(f"/api/measurements/{maccor.code}/data/"))
    assert (body["next"], body["previous"]) == (None, None)
    del body["next"], body["previous"]
    assert body == _before(frame)
    thinned = _json(api.get(f"/api/measurements/{maccor.code}/data/?every=10"))
    assert thinned["count"] == 401 and thinned["results"] == _rows(frame.gather_every(10))


def test_json_pages_through_the_series_by_its_next_links(api, maccor, monkeypatch):
    monkeypatch.setattr(data_out, "BATCH_ROWS", 700)
    frame = selectors.parsed_frame(maccor).gather_every(3)  # 1,337 rows
    url, rows, pages = f"/api/measurements/{maccor.code}/data/?every=3&limit=500", [], []
    while url:
        page = _json(api.get(url))
        pages.append((len(page["results"]), page["previous"] is not None))
        rows += page["results"]
        url = page["next"]
    assert pages == [(500, False), (500, True), (337, True)]
    assert rows == _rows(frame)
    last = _json(api.get(f"/api/measurements/{maccor.code}/data/?every=3&offset=1000&limit=500"))
    assert parse_qs(urlsplit(last["previous"]).query) == {
        "every": ["3"],
        "offset": ["500"],
        "limit": ["500"],
    }
    assert last["results"][0] == _rows(frame[1000:1001])[0]
    past = _json(api.get(f"/api/measurements/{maccor.code}/data/?offset=5000&limit=10"))
    assert (past["count"], past["results"], past["next"]) == (4009, [], None)


@override_settings(LIMS_DATA_JSON_MAX_ROWS=1000)
def test_json_above_the_limit_is_refused_naming_every_paging_and_the_streamed_formats(api, maccor):
    response = api.get(f"/api/measurements/{maccor.code}/data/")
    assert response.status_code == 400
    body = response.json()
    assert (body["rows"], body["max_rows"], body["every"]) == (4009, 1000, 5)
    for named in ("?every=5", "?limit=1000", "?format=parquet", "?format=csv"):
        assert named in body["detail"]
    # What it names works.
    assert _json(api.get(f"/api/measurements/{maccor.code}/data/?every=5"))["count"] == 802
    assert (
        len(_json(api.get(f"/api/measurements/{maccor.code}/data/?limit=1000"))["results"]) == 1000
    )
    response = api.get(f"/api/measurements/{maccor.code}/data/?limit=1001")
    assert response.status_code == 400 and "at most 1000" in response.json()["limit"][0]
    # The streamed formats have no limit.
    assert _body(api.get(f"/api/measurements/{maccor.code}/data/?format=csv")).count(b"\n") == 4010


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("every=0", "every"),
        ("every=ten", "every"),
        ("every=99999999999", "every"),
        ("offset=-1", "offset"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("evry=10", "evry"),
        ("cycles=1", "cycles"),
    ],
)
def test_a_parameter_that_cannot_be_used_is_a_400_naming_it(api, maccor, query, named):
    response = api.get(f"/api/measurements/{maccor.code}/data/?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [named]


def test_the_per_cycle_table_refuses_unknown_parameters(api, maccor):
    response = api.get(f"/api/measurements/{maccor.code}/cycles/?every=2")
    assert response.status_code == 400 and "every" in response.json()
    assert api.get(f"/api/measurements/{maccor.code}/cycles/?format=csv").status_code == 200


def test_a_stored_object_gone_is_a_404_not_a_500(api, maccor):
    (storage.root() / maccor.files.get().parsed_path).unlink()
    for fmt in ("json", "csv", "parquet"):
        assert api.get(f"/api/measurements/{maccor.code}/data/?format={fmt}").status_code == 404


def test_files_of_one_test_are_joined_in_batches_exactly_as_in_one_frame(
    api, db, django_capture_on_commit_callbacks, monkeypatch
):
    """Two instruments' files of one test: the second file's time and cycles continue from the
    first's, columns are the union; the batches must not change any of it."""
    m = _measure(django_capture_on_commit_callbacks, MACCOR, NDA)
    monkeypatch.setattr(data_out, "BATCH_ROWS", 999)
    joined = selectors.parsed_frame(m)
    frames = [pl.read_parquet(storage.root() / link.parsed_path) for link in m.files.all()]
    assert joined.equals(compute.join_continuations(frames)) and joined.height == 4009 + 6670
    series = data_out.StoredSeries.open(selectors.parsed_keys(m))
    try:
        assert pl.concat(list(series.batches())).equals(joined)
        assert pl.concat(list(series.batches(every=13))).equals(joined.gather_every(13))
        middle = pl.concat(list(series.batches(every=4, start=3996, stop=4500)))
        assert middle.equals(joined[3996:4500].gather_every(4))
    finally:
        series.close()
    parquet = api.get(f"/api/measurements/{m.code}/data/?format=parquet")
    assert pl.read_parquet(io.BytesIO(_body(parquet))).equals(joined)
    assert _body(api.get(f"/api/measurements/{m.code}/data/?format=csv")) == (
        joined.write_csv().encode()
    )
    page = _json(api.get(f"/api/measurements/{m.code}/data/?offset=4000&limit=20"))
    assert page["results"] == _rows(joined[4000:4020]) and page["columns"] == joined.columns


def test_a_thinned_parquet_is_encoded_once_with_the_same_values(api, maccor):
    response = api.get(f"/api/measurements/{maccor.code}/data/?format=parquet&every=10")
    frame = pl.read_parquet(io.BytesIO(_body(response)))
    assert frame.equals(selectors.parsed_frame(maccor).gather_every(10))
    assert response["Content-Disposition"] == f'attachment; filename="{maccor.code}.parquet"'


def test_a_252951_row_file_is_refused_in_one_json_answer_by_default(
    api, db, django_capture_on_commit_callbacks
):
    m = _measure(django_capture_on_commit_callbacks, NDAX)
    response = api.get(f"/api/measurements/{m.code}/data/")
    assert response.status_code == 400 and response.json()["every"] == 2
    frame = selectors.parsed_frame(m)
    page = _json(api.get(f"/api/measurements/{m.code}/data/?offset=200000"))
    assert page["count"] == 252_951 and page["results"] == _rows(frame[200_000:])
    assert _json(api.get(f"/api/measurements/{m.code}/data/?every=2"))["count"] == 126_476


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_stream_never_read_still_releases_the_stored_objects(api, maccor, monkeypatch, fmt):
    """A client gone before the first byte: closing the response closes the stored files."""
    closed = []
    close = data_out.StoredSeries.close
    monkeypatch.setattr(data_out.StoredSeries, "close", lambda self: closed.append(close(self)))
    response = api.get(f"/api/measurements/{maccor.code}/data/?format={fmt}")
    assert response.streaming and closed == []
    response.close()
    assert len(closed) == 1
