"""The raw-file store: every upload kept byte for byte under its SHA-256, never overwritten,
with the parsed canonical data beside it as Parquet.

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


def root() -> Path:
    return Path(settings.MEDIA_ROOT)


def raw_path(sha256: str) -> Path:
    return root() / "raw" / sha256[:2] / sha256


def parsed_path(sha256: str, parser: str, version: str) -> Path:
    return root() / "parsed" / sha256[:2] / f"{sha256}.{parser}.{version}.parquet"


def store_stream(stream: BinaryIO, *, limit: int) -> tuple[str, int]:
    """Copy a stream into the store while hashing it; returns (sha256, size).

    The bytes go to a temporary file first and are renamed into place only when complete, so a
    half-received upload never appears in the store; an existing file is never replaced.
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
    if final.exists():
        os.unlink(tmp.name)
    else:
        os.chmod(tmp.name, 0o444)  # raw data is read-only from now on
        os.replace(tmp.name, final)
    return sha, size


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.write_parquet(tmp, compression="zstd")
    os.replace(tmp, path)


def read_parquet(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)
