"""The raw-file store as tests need it: a private store per test (damage stays there), and
ways around the store's own rules (reading, replacing and removing an object) to play bit
rot, a half-restored backup or a lost object. The same on the filesystem and on S3."""

from __future__ import annotations

import copy
import uuid

from django.core.files.base import ContentFile

from measurements import storage


def use_private_store(settings, tmp_path) -> str:
    """Point the "lims" store at a place of this test's own; returns what it is."""
    stores = copy.deepcopy(settings.STORAGES)
    lims = stores["lims"]
    if lims["BACKEND"].endswith("S3Storage"):
        options = lims["OPTIONS"]
        options["location"] = f"{options['location']}/private-{uuid.uuid4().hex[:8]}".strip("/")
    else:
        settings.MEDIA_ROOT = tmp_path
        lims["OPTIONS"] = {"location": str(tmp_path)}
    settings.STORAGES = stores
    return storage.describe()


def is_s3() -> bool:
    return not isinstance(storage.backend(), storage.FileSystemStorage)


def stored(sha256: str) -> bytes | None:
    return storage.read_bytes(storage.raw_key(sha256))


def replace(sha256: str, data: bytes) -> None:
    """Put other bytes under a raw file's name (what the store itself never does)."""
    key = storage.raw_key(sha256)
    storage.backend().delete(key)
    assert storage.backend().save(key, ContentFile(data)) == key


def remove(sha256: str) -> None:
    storage.backend().delete(storage.raw_key(sha256))


def post_cycling(client, item, path):
    """The new-measurement form posted with one raw file, as a browser sends it."""
    with path.open("rb") as f:
        return client.post(
            "/measurements/new/",
            {
                "item": item.code,
                "technique": "cycling",
                "active_mass_mg": 3.0,
                "reference_cycle": 1,
                "eis_model": "auto",
                "files": [f],
            },
        )
