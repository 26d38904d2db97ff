"""An uploaded file is only ever handed back as a download: an HTML or SVG page with a script,
uploaded as a measurement's raw file (it fails parsing, and is kept byte for byte), comes back
from the web and the API as an attachment of type application/octet-stream with `nosniff`, so
the browser saves it and never runs it as a page of the site."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from measurements.models import Measurement
from synthesis.services import pellets_measure
from tests import factories

PAGE = b"<!doctype html><html><body><script>fetch('/api/tokens/')</script>hi</body></html>\n"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script>'
    b'<rect width="10" height="10"/></svg>\n'
)


@pytest.fixture
def pellet(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    p = factories.pellets(count=1)[0]
    pellets_measure({p: {"thickness_mm": 0.6}})
    return p


def assert_download_only(response, body: bytes, name: str):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == body  # the bytes as uploaded


@pytest.mark.parametrize("name, body", [("report.html", PAGE), ("logo.svg", SVG)])
def test_a_page_uploaded_through_the_form_downloads_and_never_renders(
    staff_client, api, pellet, name, body, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/measurements/new/",
            {
                "item": pellet.code,
                "technique": "eis",
                "eis_model": "auto",
                "reference_cycle": "1",
                "parser": "",
                "files": [SimpleUploadedFile(name, body, content_type="text/html")],
            },
        )
    measurement = Measurement.objects.get(item=pellet)
    assert measurement.status == "failed"  # not an instrument file; the raw file is kept
    sha = hashlib.sha256(body).hexdigest()
    assert_download_only(staff_client.get(f"/measurements/raw/{sha}/"), body, name)
    assert_download_only(api.get(f"/api/raw-files/{sha}/"), body, name)


def test_a_page_uploaded_through_the_api_downloads_and_never_renders(
    api, pellet, django_capture_on_commit_callbacks
):
    code = api.post(
        "/api/measurements/", {"item": pellet.code, "technique": "cycling"}, format="json"
    ).json()["code"]
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            f"/api/measurements/{code}/files/",
            {"files": [SimpleUploadedFile("x.html", PAGE, content_type="text/html")]},
            format="multipart",
        )
    sha = hashlib.sha256(PAGE).hexdigest()
    assert_download_only(api.get(f"/api/raw-files/{sha}/"), PAGE, "x.html")
