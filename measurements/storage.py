"""The raw-file store: every upload kept byte for byte under its SHA-256, never overwritten
(except to repair a damaged copy with the right bytes), with the parsed canonical data beside
it as Parquet.

The name is a promise about the bytes, so it is checked whenever they are read for parsing or
download (`verify`): a flipped bit on disk is refused with a reason instead of being served or
re-parsed into different numbers.

Files live under MEDIA_ROOT (`raw/ab/abcdef...`, `parsed/ab/abcdef....<parser>.parquet`). On
more than one machine MEDIA_ROOT must be shared storage that the web and the workers mount.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

import polars as pl
from django.conf import settings

CHUNK = 1024 * 1024


class TooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"file is larger than the {limit // (1024 * 1024)} MB limit")
        self.limit = limit


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


def root() -> Path:
    return Path(settings.MEDIA_ROOT)


def raw_path(sha256: str) -> Path:
    return root() / "raw" / sha256[:2] / sha256


def parsed_path(sha256: str, parser: str, version: str) -> Path:
    return root() / "parsed" / sha256[:2] / f"{sha256}.{parser}.{version}.parquet"


def hash_stream(stream: BinaryIO) -> str:
    """SHA-256 of a stream read in chunks: a 165 MB export never sits in memory at once."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def actual_hash(sha256: str) -> str | None:
    """What the stored object's bytes hash to now; None when the object is gone."""
    try:
        with raw_path(sha256).open("rb") as f:
            return hash_stream(f)
    except FileNotFoundError:
        return None


def verify(sha256: str, name: str = "") -> Path:
    """The stored object's path once its bytes are checked against its name; Damaged if not."""
    actual = actual_hash(sha256)
    if actual != sha256:
        raise Damaged(sha256, actual, name)
    return raw_path(sha256)


def open_verified(sha256: str, name: str = "") -> BinaryIO:
    """The stored object open for reading, checked on the very handle that is returned, so a
    repair renaming a new object into place between check and read cannot mix the two."""
    try:
        handle = raw_path(sha256).open("rb")
    except FileNotFoundError:
        raise Damaged(sha256, None, name) from None
    actual = hash_stream(handle)
    if actual != sha256:
        handle.close()
        raise Damaged(sha256, actual, name)
    handle.seek(0)
    return handle


def store_stream(stream: BinaryIO, *, limit: int) -> tuple[str, int, bool]:
    """Copy a stream into the store while hashing it; returns (sha256, size, written).

    The bytes go to a temporary file first and are renamed into place only when complete, so a
    half-received upload never appears in the store. An existing object is kept unless it is
    damaged or gone: then these bytes, which hash to its name, replace it (``written`` is
    True, as for a new object), which is how a re-upload repairs the store.
    """
    digest, size = hashlib.sha256(), 0
    tmp_dir = root() / "raw" / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=tmp_dir, delete=False) as tmp:
        try:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                digest.update(chunk)
                tmp.write(chunk)
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)
            raise
    sha = digest.hexdigest()
    final = raw_path(sha)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and actual_hash(sha) == sha:
        os.unlink(tmp.name)
        return sha, size, False
    os.chmod(tmp.name, 0o444)  # raw data is read-only from now on
    os.replace(tmp.name, final)  # atomic: readers see the old object or the new, never half
    return sha, size, True


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.write_parquet(tmp, compression="zstd")
    os.replace(tmp, path)


def read_parquet(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


def open_derived(key: str) -> BinaryIO:
    """The stored derived object `key` (a file's parsed Parquet, `MeasurementFile.parsed_path`,
    relative to the store) open for binary reading, seekable, as it was written: the data
    endpoint streams these bytes as they are and reads row batches from them. The caller
    closes it. FileNotFoundError when the object is not (or no longer) in the store."""
    path = (root() / key).resolve()
    # A key names an object inside the store, never a path out of it.
    if not path.is_relative_to(root().resolve()):
        raise FileNotFoundError(key)
    return path.open("rb")
