"""Uploads hashed while they arrive and written once (`storage.HashingUploadHandler`): the web
form and the API both hand the store an upload it moves into place, and an upload refused
for its size or cut off by the client leaves nothing behind. On the configured store (the
filesystem, or S3 in CI), each test in a private part of it."""

from __future__ import annotations

import gc
import hashlib
import io

import pytest
from django.http.multipartparser import MultiPartParser
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from measurements import services, storage
from measurements.models import RawFile
from tests import factories
from tests import store as test_store
from tests.instrument_files import ROOT

MACCOR = ROOT / "cellpy" / "maccor_three.txt"  # a real Maccor export (cellpy, MIT), 0.4 MB
DATA = MACCOR.read_bytes()
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def private(settings, tmp_path):
    test_store.use_private_store(settings, tmp_path / "store")
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    (tmp_path / "spool").mkdir()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # so this export streams
    return tmp_path


def left_behind(tmp_path) -> list[str]:
    """Spool files still on disk (the filesystem store's spool is inside it)."""
    places = [tmp_path / "spool", tmp_path / "store" / "raw" / "tmp"]
    return [str(p) for place in places if place.exists() for p in place.rglob("*") if p.is_file()]


@pytest.fixture
def seen(monkeypatch):
    """The upload objects the service is handed."""
    uploads = []
    real = services.raw_file_store
    monkeypatch.setattr(
        services, "raw_file_store", lambda s, **kw: uploads.append(s) or real(s, **kw)
    )
    return uploads


def test_a_web_form_upload_is_hashed_on_arrival_and_moved_into_the_store(
    private, staff_client, seen, django_capture_on_commit_callbacks
):
    cell = factories.full_cell()
    with django_capture_on_commit_callbacks(execute=True):
        response = test_store.post_cycling(staff_client, cell, MACCOR)
    assert response.status_code == 302
    assert [(type(u).__name__, u.sha256, u.size) for u in seen] == [
        ("HashedUpload", SHA, len(DATA))
    ]
    assert RawFile.objects.get().sha256 == SHA
    assert test_store.stored(SHA) == DATA
    assert left_behind(private) == []


def test_an_api_upload_takes_the_same_path(private, api, seen):
    pellet = factories.pellets(count=1)[0]
    made = api.post(
        "/api/measurements/",
        {"item": pellet.code, "technique": "cycling", "files": [MACCOR.open("rb")]},
        format="multipart",
    )
    assert made.status_code == 201, made.json()
    assert [type(u).__name__ for u in seen] == ["HashedUpload"]
    assert test_store.stored(SHA) == DATA
    assert left_behind(private) == []


def parse(body: bytes, stream=None):
    meta = {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(len(body))}
    parser = MultiPartParser(
        meta, stream or io.BytesIO(body), [storage.HashingUploadHandler()], "utf-8"
    )
    return parser.parse()


def test_a_file_over_the_limit_is_dropped_as_it_arrives_and_refused_naming_it(private, settings):
    # The middleware refuses a body over the limit by its length first; this is the handler's
    # own guard, for a body whose length did not tell.
    settings.LIMS_MAX_UPLOAD_BYTES = 256 * 1024
    body = encode_multipart(BOUNDARY, {"files": MACCOR.open("rb")})
    _, files = parse(body)
    upload = files["files"]
    assert type(upload).__name__ == "RefusedUpload"
    assert left_behind(private) == []
    with pytest.raises(storage.TooLarge) as refused:
        storage.store_stream(upload, limit=settings.LIMS_MAX_UPLOAD_BYTES)
    assert str(refused.value) == "maccor_three.txt: file is larger than the 0 MB limit"
    assert not storage.exists(storage.raw_key(SHA))


class Disconnect(io.BytesIO):
    """A client that goes away after `cut` bytes of the body."""

    def __init__(self, data: bytes, cut: int):
        super().__init__(data)
        self.cut = cut

    def read(self, size=-1):
        if self.tell() >= self.cut:
            raise OSError("client disconnected")
        return super().read(min(size if size >= 0 else self.cut, self.cut - self.tell()))


def test_a_client_that_aborts_mid_upload_leaves_nothing(private):
    body = encode_multipart(BOUNDARY, {"files": MACCOR.open("rb")})
    with pytest.raises(OSError, match="client disconnected"):
        parse(body, Disconnect(body, len(body) // 2))
    gc.collect()  # the parser's handler and its spool file are gone with the request
    assert left_behind(private) == []
    assert not storage.exists(storage.raw_key(SHA))
