"""The store on a real S3 server (SeaweedFS; the configured one in CI, else a private one the
`seaweedfs` fixture starts): objects written once under their SHA-256 and never overwritten,
a damaged or missing object refused and repaired by a re-upload, downloads streamed from the
store, and a whole measurement (web upload, worker parse, Parquet, plots) with no local file
left behind. The uploads are real instrument exports from tests/data/instrument-files/."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import polars as pl
import pytest
from botocore.response import StreamingBody

from measurements import services, storage
from measurements.models import Measurement, RawFile
from tests import factories
from tests import store as test_store
from tests.instrument_files import ROOT

MPT = ROOT / "impedance.py" / "exampleDataBioLogic.mpt"
PRISTINE = MPT.read_bytes()
SHA = hashlib.sha256(PRISTINE).hexdigest()
MACCOR = ROOT / "cellpy" / "maccor_three.txt"


def head(sha256: str) -> dict:
    store = storage.backend()
    key = store._normalize_name(storage.raw_key(sha256))
    answer = store.connection.meta.client.head_object(Bucket=store.bucket_name, Key=key)
    return {"etag": answer["ETag"], "modified": answer["LastModified"]}


def test_an_object_is_written_once_never_overwritten_and_repaired_by_the_right_bytes(s3_store):
    assert s3_store.startswith("s3://") and "/private-" in s3_store
    assert storage.where(storage.raw_key(SHA)).startswith("s3://")
    assert storage.store_stream(MPT.open("rb"), limit=10**9) == (SHA, len(PRISTINE), True)
    first = head(SHA)
    assert storage.store_stream(MPT.open("rb"), limit=10**9) == (SHA, len(PRISTINE), False)
    assert head(SHA) == first  # the same object: not written again

    flipped = bytearray(PRISTINE)
    flipped[100] ^= 0x01
    test_store.replace(SHA, bytes(flipped))
    actual = hashlib.sha256(flipped).hexdigest()
    assert storage.actual_hash(SHA) == actual
    with pytest.raises(storage.Damaged, match=f"its bytes hash to {actual[:12]}"):
        storage.open_verified(SHA, "x.mpt")
    with pytest.raises(storage.Damaged), storage.local_raw(SHA, "x.mpt"):
        pass
    # The pristine bytes repair it (and only bytes that hash to the name can: the key is
    # their own hash).
    assert storage.store_stream(MPT.open("rb"), limit=10**9) == (SHA, len(PRISTINE), True)
    assert test_store.stored(SHA) == PRISTINE
    with storage.open_verified(SHA) as handle:
        assert handle.read() == PRISTINE


def test_a_missing_object_is_refused(s3_store):
    storage.store_stream(MPT.open("rb"), limit=10**9)
    test_store.remove(SHA)
    assert storage.actual_hash(SHA) is None
    with pytest.raises(storage.Damaged, match="is missing from the store"):
        storage.open_verified(SHA, "x.mpt")
    with pytest.raises(storage.Damaged, match="is missing"), storage.local_raw(SHA, "x.mpt"):
        pass
    with pytest.raises(FileNotFoundError):
        storage.open_derived(storage.parsed_key(SHA, "biologic_mpt", "3"))


def test_a_web_upload_is_processed_from_s3_and_downloads_stream_from_it(
    s3_store, staff_client, api, settings, django_capture_on_commit_callbacks, monkeypatch
):
    item = factories.full_cell()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # this 0.4 MB export then streams
    seen = []
    real = services.raw_file_store
    monkeypatch.setattr(
        services, "raw_file_store", lambda stream, **kw: seen.append(stream) or real(stream, **kw)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = test_store.post_cycling(staff_client, item, MACCOR)
    assert response.status_code == 302, response.content.decode()[-6000:]
    # Hashed while it arrived and written into the spool once, then uploaded from there.
    assert [type(s).__name__ for s in seen] == ["HashedUpload"]
    m = Measurement.objects.get()
    assert m.status in ("done", "done_with_warnings"), m.status_detail
    raw = RawFile.objects.get()
    data = MACCOR.read_bytes()
    assert raw.sha256 == hashlib.sha256(data).hexdigest()
    assert raw.storage_path == storage.raw_key(raw.sha256)
    assert test_store.stored(raw.sha256) == data
    spool = Path(settings.FILE_UPLOAD_TEMP_DIR)
    assert [p for p in spool.rglob("*") if p.is_file()] == []  # no local copy stays behind

    link = m.files.get()
    assert link.parsed_path.startswith(f"parsed/{raw.sha256[:2]}/{raw.sha256}.")
    with contextlib.closing(storage.open_derived(link.parsed_path)) as seekable:
        assert pl.read_parquet(seekable).height == link.parsed_rows  # batches seek in it
    stream = storage.stream_derived(link.parsed_path)
    # botocore's response body, read from S3 as it is consumed (no copy made beforehand).
    assert isinstance(stream, StreamingBody)
    with contextlib.closing(stream):
        frame = pl.read_parquet(stream.read())
    assert frame.height == link.parsed_rows > 1_000

    download = api.get(f"/api/raw-files/{raw.sha256}/")
    assert download.status_code == 200 and download.streaming
    chunks = list(download.streaming_content)
    assert b"".join(chunks) == data and len(chunks) > 1
