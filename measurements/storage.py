"""The raw-file store: every upload kept byte for byte under its SHA-256, never overwritten
(except to repair a damaged or missing copy with bytes that hash to its name), with the
parsed canonical data beside it as Parquet and the plot payloads as a cache.

The name is a promise about the bytes, so it is checked whenever they are read for parsing or
download (`open_verified`, `local_raw`): a flipped bit is refused with a reason instead of
being served or re-parsed into different numbers.

The store is Django's storage alias "lims" (`settings.STORAGES`, from `LIMS_STORAGE_URL`):
the local filesystem under MEDIA_ROOT (the embedded default) or an S3-compatible object store
(django-storages' S3Storage on boto3), which the web processes and the workers share over the
network. Keys are the same on both: `raw/ab/abcdef...`, `parsed/ab/abcdef....<parser>.
<options>.parquet`, `plots/<measurement>/<run key>/<cycles>.json`. This module is the one
that knows which kind of store it talks to; everything else passes keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import polars as pl
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

CHUNK = 1024 * 1024
ALIAS = "lims"


class TooLarge(Exception):
    def __init__(self, limit: int, name: str = ""):
        what = f"{name}: file" if name else "file"
        super().__init__(f"{what} is larger than the {limit // (1024 * 1024)} MB limit")
        self.limit, self.name = limit, name


class Damaged(Exception):
    """A stored object whose bytes no longer hash to its name, or that is gone."""

    def __init__(self, sha256: str, actual: str | None, name: str = ""):
        self.sha256, self.actual, self.name = sha256, actual, name
        what = f"raw file {name} (sha256 {sha256[:12]}…)" if name else f"raw file {sha256}"
        state = (
            "is missing from the store"
            if actual is None
            else f"is damaged in the store: its bytes hash to {actual[:12]}…"
        )
        super().__init__(f"{what} {state}; upload the original file again to repair it")


# --- the store and its keys ---------------------------------------------------------------


def is_transient(exc: BaseException) -> bool:
    """Whether an error is the object store not answering (worth a retry), not a defect."""
    try:
        from botocore import exceptions as boto
    except ImportError:  # no S3 support installed: the filesystem store has no such errors
        return False
    return isinstance(
        exc,
        boto.EndpointConnectionError
        | boto.ConnectionClosedError
        | boto.ReadTimeoutError
        | boto.ConnectTimeoutError,
    )


def backend() -> Storage:
    return storages[ALIAS]


def _local() -> FileSystemStorage | None:
    """The filesystem store, when that is what is configured (renames and paths are then
    available); None for an object store."""
    store = backend()
    return store if isinstance(store, FileSystemStorage) else None


def describe() -> str:
    """The configured store, for messages and /readyz (no credentials)."""
    local = _local()
    if local is not None:
        return f"file://{local.location}"
    store = backend()
    prefix = f"/{store.location}" if getattr(store, "location", "") else ""
    return f"s3://{store.bucket_name}{prefix} at {store.endpoint_url or 'AWS'}"


def raw_key(sha256: str) -> str:
    return f"raw/{sha256[:2]}/{sha256}"


def parsed_key(sha256: str, parser: str, version: str) -> str:
    return f"parsed/{sha256[:2]}/{sha256}.{parser}.{version}.parquet"


def where(key: str) -> str:
    """Where an object lives, for an operator: a path, or s3://bucket/key."""
    local = _local()
    if local is not None:
        return local.path(key)
    store = backend()
    return f"s3://{store.bucket_name}/{store._normalize_name(key)}"


def exists(key: str) -> bool:
    return backend().exists(key)


def delete(key: str) -> None:
    backend().delete(key)


def _open_stream(key: str) -> BinaryIO:
    """The object's bytes as a stream read from the store as it is consumed (for S3 the
    response body itself: no copy in memory or on disk); FileNotFoundError when absent."""
    local = _local()
    if local is not None:
        return open(local.path(key), "rb")
    store = backend()
    client = store.connection.meta.client
    try:
        answer = client.get_object(Bucket=store.bucket_name, Key=store._normalize_name(key))
    except client.exceptions.NoSuchKey:
        raise FileNotFoundError(key) from None
    return answer["Body"]


def _put(key: str, data: BinaryIO) -> None:
    """Write an object under exactly this key, whole or not at all (readers see the old
    object or the new one, never half)."""
    local = _local()
    if local is not None:
        path = Path(local.path(key))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as tmp:
            try:
                while chunk := data.read(CHUNK):
                    tmp.write(chunk)
            except BaseException:
                tmp.close()
                os.unlink(tmp.name)
                raise
        os.replace(tmp.name, path)
        return
    # S3 objects appear whole on completion (a multipart upload for big ones); the content is
    # named by its own hash, so a concurrent writer of the same key writes the same bytes.
    store = backend()
    client, name = store.connection.meta.client, store._normalize_name(key)
    path = getattr(data, "name", None)
    if isinstance(path, str) and os.path.isfile(path):
        # From a file by its name, boto3 reads each part from disk as it sends it; from a file
        # object it holds up to ten 8 MB parts in memory (a 165 MB upload: +250 MB peak RSS
        # in the web process, benchmarks/upload.py).
        client.upload_file(path, store.bucket_name, name, Config=_transfer_config())
    else:
        client.upload_fileobj(data, store.bucket_name, name, Config=_transfer_config())


def _transfer_config():
    from boto3.s3.transfer import TransferConfig  # boto3 only when S3 is configured

    return TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4, max_io_queue=16)


def read_bytes(key: str) -> bytes | None:
    """A small object's bytes (the plot cache); None when absent."""
    try:
        with contextlib.closing(_open_stream(key)) as stream:
            return stream.read()
    except FileNotFoundError:
        return None


def write_bytes(key: str, data: bytes) -> None:
    _put(key, io.BytesIO(data))


def delete_tree(prefix: str, keep: str = "") -> None:
    """Delete every object under ``prefix/`` except those under ``prefix/keep/``."""
    store = backend()
    try:
        dirs, files = store.listdir(prefix)
    except FileNotFoundError:
        return
    for name in files:
        store.delete(f"{prefix}/{name}")
    for sub in dirs:
        if sub != keep:
            delete_tree(f"{prefix}/{sub}")
    local = _local()
    if local is not None and not keep:
        with contextlib.suppress(OSError):
            os.rmdir(local.path(prefix))


# --- raw files ------------------------------------------------------------------------------


def hash_stream(stream: BinaryIO) -> str:
    """SHA-256 of a stream read in chunks: a 165 MB export never sits in memory at once."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def actual_hash(sha256: str) -> str | None:
    """What the stored object's bytes hash to now; None when the object is gone."""
    try:
        with contextlib.closing(_open_stream(raw_key(sha256))) as stream:
            return hash_stream(stream)
    except FileNotFoundError:
        return None


def verify(sha256: str, name: str = "") -> None:
    """Damaged unless the stored object's bytes hash to its name."""
    actual = actual_hash(sha256)
    if actual != sha256:
        raise Damaged(sha256, actual, name)


def _copy_hashing(source: BinaryIO, target: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        target.write(chunk)
    return digest.hexdigest()


def open_verified(sha256: str, name: str = "") -> BinaryIO:
    """The stored object open for reading, checked on the very bytes that are returned, so a
    repair replacing the object between check and read cannot mix the two. On the filesystem
    the stored file itself; from S3 a local spool written while hashing (deleted on close)."""
    try:
        stream = _open_stream(raw_key(sha256))
    except FileNotFoundError:
        raise Damaged(sha256, None, name) from None
    if _local() is not None:
        handle, actual = stream, hash_stream(stream)
    else:
        handle = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
        with contextlib.closing(stream):
            actual = _copy_hashing(stream, handle)
    if actual != sha256:
        handle.close()
        raise Damaged(sha256, actual, name)
    handle.seek(0)
    return handle


@contextlib.contextmanager
def local_raw(sha256: str, name: str = "") -> Iterator[Path]:
    """A verified local path of the raw file for a parser: the stored file on the filesystem;
    from S3 a temporary copy downloaded while hashing, deleted afterwards."""
    local = _local()
    if local is not None:
        verify(sha256, name)
        yield Path(local.path(raw_key(sha256)))
        return
    suffix = Path(name).suffix[:16] if name else ""
    with tempfile.TemporaryDirectory(dir=settings.FILE_UPLOAD_TEMP_DIR) as tmp:
        path = Path(tmp) / f"{sha256}{suffix}"
        try:
            stream = _open_stream(raw_key(sha256))
        except FileNotFoundError:
            raise Damaged(sha256, None, name) from None
        with contextlib.closing(stream), path.open("wb") as out:
            actual = _copy_hashing(stream, out)
        if actual != sha256:
            raise Damaged(sha256, actual, name)
        yield path


def _spool_dir() -> Path:
    """Where an upload is written while it arrives: on the filesystem store, inside it (the
    same filesystem, so a finished upload is renamed into place, not copied); for an object
    store a local directory, uploaded from once the hash (its key) is known."""
    local = _local()
    if local is not None:
        path = Path(local.path("raw/tmp"))
    else:
        base = settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir()
        path = Path(base) / "lims-spool"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _spool() -> tempfile._TemporaryFileWrapper:
    """A spool file that deletes itself when closed or garbage-collected (a client that
    aborts mid-upload leaves nothing), unless it was renamed into the store first."""
    return tempfile.NamedTemporaryFile(dir=_spool_dir(), prefix="upload-")  # noqa: SIM115


def _discard(spool) -> None:
    with contextlib.suppress(OSError):  # already renamed into the store
        spool.close()


class HashedUpload(UploadedFile):
    """An upload written to the store's spool while it arrived, with its SHA-256 and size
    known: `store_stream` moves it into place instead of copying it again. The spool file is
    deleted on close unless it was moved into the store."""

    def __init__(self, spool, sha256: str, size: int, name: str, content_type, charset):
        super().__init__(spool, name, content_type, size, charset)
        self.sha256 = sha256

    def temporary_file_path(self) -> str:
        return self.file.name

    def close(self):
        _discard(self.file)


class RefusedUpload(UploadedFile):
    """An upload that went over the limit while it arrived: its bytes are already dropped,
    and storing it raises TooLarge naming it."""

    def __init__(self, name: str, limit: int):
        # Its size is over the limit, so no form mistakes it for an empty file.
        super().__init__(io.BytesIO(), name, None, limit + 1, None)
        self.limit = limit


class HashingUploadHandler(FileUploadHandler):
    """FILE_UPLOAD_HANDLERS entry: hashes each uploaded file as its chunks arrive and writes
    them straight into the store's spool (see `_spool_dir`), so an upload is written once
    instead of to Django's temporary file and then again into the store. Bytes past the
    upload limit are dropped at once; a refused or interrupted upload leaves nothing."""

    chunk_size = CHUNK

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.limit = settings.LIMS_MAX_UPLOAD_BYTES
        self.digest, self.size, self.refused = hashlib.sha256(), 0, False
        self.file = _spool()  # named `file`: Django's parser closes it on StopUpload

    def receive_data_chunk(self, raw_data, start):
        if self.refused:
            return None
        self.size += len(raw_data)
        if self.size > self.limit:
            self.refused = True
            _discard(self.file)
            return None
        self.digest.update(raw_data)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size):
        if self.refused:
            return RefusedUpload(self.file_name, self.limit)
        self.file.flush()
        self.file.seek(0)
        return HashedUpload(
            self.file,
            self.digest.hexdigest(),
            self.size,
            self.file_name,
            self.content_type,
            self.charset,
        )

    def upload_interrupted(self):
        if hasattr(self, "file"):
            _discard(self.file)


def _adopt(sha: str, spool) -> bool:
    """Move a hashed spool file into the store under its hash unless an intact object is
    there already; whether it was written (new, or a repair). The spool is gone afterwards."""
    key = raw_key(sha)
    try:
        if exists(key) and actual_hash(sha) == sha:
            return False
        local = _local()
        if local is not None:
            final = Path(local.path(key))
            final.parent.mkdir(parents=True, exist_ok=True)
            spool.flush()
            os.chmod(spool.name, 0o444)  # raw data is read-only from now on
            os.replace(spool.name, final)  # atomic, on the same filesystem: no second copy
        else:
            spool.flush()
            _put(key, spool)
        return True
    finally:
        _discard(spool)


def store_stream(stream: BinaryIO, *, limit: int) -> tuple[str, int, bool]:
    """Keep a stream in the store under its SHA-256; returns (sha256, size, written).

    An upload already hashed into the spool (`HashingUploadHandler`) is moved into place; any
    other stream is first copied into the spool while hashing. A half-received stream never
    appears in the store. An existing object is kept unless it is damaged or gone: then these
    bytes, which hash to its name, replace it (``written`` is True, as for a new object),
    which is how a re-upload repairs the store.
    """
    name = os.path.basename(str(getattr(stream, "name", "") or ""))
    if isinstance(stream, RefusedUpload):
        raise TooLarge(stream.limit, name)
    if isinstance(stream, HashedUpload):
        if stream.size > limit:
            stream.close()
            raise TooLarge(limit, name)
        return stream.sha256, stream.size, _adopt(stream.sha256, stream.file)
    digest, size = hashlib.sha256(), 0
    spool = _spool()
    try:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge(limit, name)
            digest.update(chunk)
            spool.write(chunk)
    except BaseException:
        _discard(spool)
        raise
    sha = digest.hexdigest()
    return sha, size, _adopt(sha, spool)


# --- derived data ---------------------------------------------------------------------------


def write_parquet(frame: pl.DataFrame, key: str) -> None:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    buffer.seek(0)
    _put(key, buffer)


def read_parquet(key: str) -> pl.DataFrame:
    local = _local()
    if local is not None:
        return pl.read_parquet(local.path(key))
    with contextlib.closing(_open_stream(key)) as stream:
        return pl.read_parquet(io.BytesIO(stream.read()))


def open_derived(key: str) -> BinaryIO:
    """The stored derived object `key` (a file's parsed Parquet, `MeasurementFile.parsed_path`)
    open for binary reading, seekable, with the bytes as they were written: the data endpoint
    streams them as they are and reads row batches from them. The caller closes it.
    FileNotFoundError when the object is not (or no longer) in the store.

    From an object store the bytes are spooled to a local temporary file first (seeking a
    Parquet footer over HTTP per batch would cost a request each); memory stays bounded."""
    local = _local()
    if local is not None:
        return open(local.path(key), "rb")  # path() refuses a key leading out of the store
    spool = tempfile.SpooledTemporaryFile(max_size=CHUNK * 8, dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
    with contextlib.closing(_open_stream(key)) as stream:
        while chunk := stream.read(CHUNK):
            spool.write(chunk)
    spool.seek(0)
    return spool


def stream_derived(key: str) -> BinaryIO:
    """The stored derived object's bytes as they are, read from the store as they are consumed
    (from S3 the response body itself: no copy in memory or on disk), for serving the object
    whole; not seekable. FileNotFoundError when absent."""
    return _open_stream(key)


def put_derived(key: str, stream: BinaryIO) -> None:
    """Store a derived object's bytes under `key` as they are (a restore from backup)."""
    _put(key, stream)


def save_probe() -> str:
    """Write, read back and delete a tiny object (readiness): what was checked."""
    key = f"readyz/{uuid.uuid4().hex}"
    payload = b"readyz"
    store = backend()
    _put(key, io.BytesIO(payload))
    try:
        if read_bytes(key) != payload:
            raise RuntimeError("a probe object read back different bytes")
    finally:
        store.delete(key)
    return f"{describe()}: write, read and delete ok"
