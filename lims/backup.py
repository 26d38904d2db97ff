"""Backup and restore of the whole LIMS: the database and the object store, checked by SHA-256.

A backup directory holds

- ``database.json``: every row of every app (records, lineage, results, audit history, users
  with their password hashes, API tokens, admin log), by Django's ``dumpdata`` with natural
  foreign keys for content types and permissions. Why not pg_dump: one format for both engines
  (a laptop's SQLite `make run` restores into a PostgreSQL server and back), loaded through the
  same models whatever the database, so the round trip is tested on SQLite and PostgreSQL
  alike; the cost is speed on a very large database, where pg_dump beside it is the tool.
  Sessions are left out (everyone logs in again), content types and permissions too (migrate
  makes them; rows refer to them by natural key). The dump is read in one transaction
  (PostgreSQL: REPEATABLE READ), so it is one consistent moment of the database.
- ``manifest.json``, written last (its presence means the backup completed): the dump's SHA-256
  and, for every raw file and parsed Parquet object the database refers to, its key, size and
  SHA-256 and whether the store held it intact when the backup was made. Raw files are named by
  their hash, so each is checked against its own name while it is read; a damaged or missing one
  is listed with the measurements that use it.
- ``objects/<key>`` with ``--with-objects``: a copy of every intact object.

Restore loads the dump into an empty database (migrated first), puts the copied objects back into
the configured store through ``measurements.storage`` (raw files by ``store_stream``, which hashes
them on the way in), then checks every object of the manifest in the store and reports each one
missing or mismatched. Plot caches are not backed up: they are rebuilt on demand.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from measurements import selectors, storage
from measurements.models import MeasurementFile, RawFile

FORMAT = "lims-backup/1"
DATABASE_FILE = "database.json"
MANIFEST_FILE = "manifest.json"
OBJECTS_DIR = "objects"
# Derived or recreated by migrate; everything else is the lab's and is kept.
NOT_DUMPED = ["contenttypes", "auth.permission", "sessions"]
# Rows migrate itself writes: a migrated database with only these counts as empty.
MIGRATE_MADE = {"contenttypes.contenttype", "auth.permission", "sessions.session"}


class BackupError(Exception):
    """A backup or restore that cannot start; the message says why and what to do."""


@dataclass
class ObjectEntry:
    kind: str  # "raw" (an upload, named by its SHA-256) or "parquet" (parsed, derived)
    key: str  # path in the store, also the path under objects/ in the backup
    sha256: str | None  # what the bytes must hash to (None: a Parquet object that was gone)
    size: int | None
    state: str = "ok"  # at backup time: ok, damaged or missing
    actual_sha256: str | None = None
    measurements: list[str] = field(default_factory=list)
    copied: bool = False


@dataclass
class Problem:
    key: str
    state: str  # damaged, missing, mismatched, ...
    detail: str

    def __str__(self) -> str:
        return f"{self.state.upper()} {self.key}: {self.detail}"


# -- the store --------------------------------------------------------------------------------
# Raw files go through measurements.storage's hash-checked API; parsed Parquet through its
# derived-object calls (by key, whatever the store).


def _open_parsed(key: str) -> BinaryIO | None:
    try:
        return storage.open_derived(key)
    except FileNotFoundError:
        return None


def _put_parsed(key: str, stream: BinaryIO) -> None:
    storage.put_derived(key, stream)


def _hash_file(path: Path) -> str:
    with path.open("rb") as f:
        return storage.hash_stream(f)


def _copy_hashing(source: BinaryIO, target: Path) -> tuple[str, int]:
    """Copy a stream to a file, hashing what was written; returns (sha256, size)."""
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        while chunk := source.read(storage.CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


# -- backup -----------------------------------------------------------------------------------


def _dump_and_list(path: Path) -> tuple[list[RawFile], list[str]]:
    """The database dump and the objects it refers to, read in one transaction."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        call_command(
            "dumpdata",
            natural_foreign=True,
            use_base_manager=True,  # every row, whatever a default manager would filter
            exclude=NOT_DUMPED,
            output=str(path),
            verbosity=0,
        )
        raws = list(RawFile.objects.order_by("pk"))
        parsed = list(
            MeasurementFile.objects.exclude(parsed_path="")
            .order_by("parsed_path")
            .values_list("parsed_path", flat=True)
            .distinct()
        )
    return raws, parsed


def _raw_entry(raw: RawFile, objects: Path | None) -> ObjectEntry:
    key = raw.storage_path or f"raw/{raw.sha256[:2]}/{raw.sha256}"  # the key the row names
    entry = ObjectEntry("raw", key, raw.sha256, raw.size_bytes)
    if objects is None:
        actual = storage.actual_hash(raw.sha256)
    else:
        try:
            with storage.open_verified(raw.sha256, raw.original_name) as source:
                actual, entry.size = _copy_hashing(source, objects / key)
        except storage.Damaged as exc:
            actual = exc.actual
        entry.copied = actual == raw.sha256
        if not entry.copied:  # changed between the check and the copy: keep no bad bytes
            (objects / key).unlink(missing_ok=True)
    if actual != raw.sha256:
        entry.state = "missing" if actual is None else "damaged"
        entry.actual_sha256 = actual
        entry.measurements = [m.code for m in selectors.measurements_using(raw.sha256)]
    return entry


def _parquet_entry(key: str, objects: Path | None) -> ObjectEntry:
    source = _open_parsed(key)
    if source is None:
        return ObjectEntry("parquet", key, None, None, state="missing")
    with source:
        if objects is None:
            sha, size = storage.hash_stream(source), source.tell()
        else:
            sha, size = _copy_hashing(source, objects / key)
    return ObjectEntry("parquet", key, sha, size, copied=objects is not None)


def backup(
    directory: Path, *, with_objects: bool, progress: Callable[[str], None] = lambda _: None
) -> dict:
    """Write a backup into ``directory`` (new or empty); returns the manifest."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: choose a new directory for each backup")
    directory.mkdir(parents=True, exist_ok=True)
    dump = directory / DATABASE_FILE
    progress(f"dumping the database to {dump}")
    raws, parsed = _dump_and_list(dump)
    objects = directory / OBJECTS_DIR if with_objects else None
    progress(f"checking {len(raws)} raw files and {len(parsed)} Parquet objects")
    entries = [_raw_entry(raw, objects) for raw in raws]
    entries += [_parquet_entry(key, objects) for key in parsed]
    manifest = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "database": {
            "file": DATABASE_FILE,
            "vendor": connection.vendor,
            "sha256": _hash_file(dump),
            "size": dump.stat().st_size,
        },
        "objects_copied": with_objects,
        "objects": [asdict(e) for e in entries],
        "problems": sum(e.state != "ok" for e in entries),
    }
    tmp = directory / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, directory / MANIFEST_FILE)  # last: its presence means the backup completed
    return manifest


def backup_problems(manifest: dict) -> list[Problem]:
    out = []
    for e in manifest["objects"]:
        if e["state"] == "ok":
            continue
        if e["state"] == "damaged":
            detail = f"bytes hash to {e['actual_sha256']}, not {e['sha256']}"
        else:
            detail = "not in the store"
        if e["measurements"]:
            detail += f"; used by {', '.join(e['measurements'])}"
        out.append(Problem(e["key"], e["state"], detail))
    return out


# -- restore ----------------------------------------------------------------------------------


def read_manifest(directory: Path) -> dict:
    directory = Path(directory)
    path = directory / MANIFEST_FILE
    if not path.exists():
        raise BackupError(
            f"{directory} has no {MANIFEST_FILE}: not a backup, or one that did not complete"
        )
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: format {manifest.get('format')!r} is not {FORMAT!r}")
    dump = directory / manifest["database"]["file"]
    if not dump.exists():
        raise BackupError(f"{dump} is missing")
    if _hash_file(dump) != manifest["database"]["sha256"]:
        raise BackupError(f"{dump} is damaged: its SHA-256 is not the manifest's")
    return manifest


def tables_with_rows() -> list[str]:
    """The lab's tables that hold rows (what migrate writes itself does not count)."""
    out = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed or meta.label_lower in MIGRATE_MADE:
            continue
        if model._base_manager.using(connection.alias).exists():
            out.append(meta.db_table)
    return out


def _restore_object(entry: dict, source: Path) -> Problem | None:
    """Put one copied object back into the store, after checking the copy against the
    manifest (a damaged copy never enters the store)."""
    if _hash_file(source) != entry["sha256"]:
        return Problem(entry["key"], "damaged in the backup", "the copy's bytes changed")
    with source.open("rb") as f:
        if entry["kind"] == "raw":
            storage.store_stream(f, limit=entry["size"])
        else:
            _put_parsed(entry["key"], f)
    return None


def _check_in_store(entry: dict) -> Problem | None:
    if entry["kind"] == "raw":
        actual = storage.actual_hash(entry["sha256"])
    else:
        source = _open_parsed(entry["key"])
        actual = None if source is None else storage.hash_stream(source)
        if source is not None:
            source.close()
    if actual == entry["sha256"]:
        return None
    if actual is None:
        return Problem(entry["key"], "missing", "not in the store after restore")
    return Problem(entry["key"], "mismatched", f"the store's bytes hash to {actual}")


def restore(
    directory: Path, *, force: bool, progress: Callable[[str], None] = lambda _: None
) -> tuple[dict, list[Problem]]:
    """Load a backup into this database and store; returns (manifest, problems)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    call_command("migrate", interactive=False, verbosity=0)
    filled = tables_with_rows()
    if filled and not force:
        raise BackupError(
            f"the database is not empty ({len(filled)} tables hold rows, e.g. "
            f"{', '.join(filled[:3])}): restore into an empty database, or pass --force to "
            "replace everything in it with the backup"
        )
    if filled:
        progress(f"--force: emptying {len(filled)} tables")
        call_command("flush", interactive=False, verbosity=0)
    progress(f"loading {manifest['database']['file']}")
    with transaction.atomic():
        call_command("loaddata", str(directory / manifest["database"]["file"]), verbosity=0)
    problems: list[Problem] = []
    objects = directory / OBJECTS_DIR
    for entry in manifest["objects"]:
        if entry["state"] != "ok":
            # No good copy was made; the store may hold it (repaired since, or never lost).
            if entry["sha256"] is None or _check_in_store(entry):
                problems.append(
                    Problem(entry["key"], f"{entry['state']} at backup", "and not in the store")
                )
            continue
        source = objects / entry["key"]
        if source.exists():
            problem = _restore_object(entry, source)
            if problem:
                problems.append(problem)
                continue
        problem = _check_in_store(entry)
        if problem:
            problems.append(problem)
    return manifest, problems
