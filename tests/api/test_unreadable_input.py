"""Input no view can take is a 400 before any view runs, for the web pages and the API alike:
a NUL (or an unpaired surrogate) in the address, the query or a form value, and a multipart
body cut off before its closing boundary. Nothing is written."""

from __future__ import annotations

import json

import pytest
from django.test.client import encode_multipart

from core.input_checks import TRUNCATED
from measurements.models import Measurement, RawFile
from synthesis.models import ReagentLot
from tests import factories

BOUNDARY = "lims-test-boundary"
CANNOT = "contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored."


@pytest.fixture
def pellet(db):
    return factories.pellets(count=1)[0]


def _upload_fields(pellet) -> dict:
    """What the upload form sends (its settings pre-filled with the defaults)."""
    return {
        "item": pellet.code,
        "technique": "eis",
        "eis_model": "auto",
        "reference_cycle": "1",
        "files": _file(),
    }


def _file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("p.mpt", b"EC-Lab ASCII FILE\n" + b"1\t2\t3\n" * 2000)


def multipart(fields: dict, cut: str = "") -> bytes:
    """A multipart body as a browser sends it; `cut`: "end" drops the closing boundary,
    "file" cuts the body in the middle of the file."""
    body = encode_multipart(BOUNDARY, fields)
    close = f"--{BOUNDARY}--".encode()
    if cut == "end":
        return body[: body.rindex(close)]
    if cut == "file":
        return body[: body.index(b"1\t2\t3\n" * 1000)]
    return body


def answered_by_the_middleware(response, message: str) -> bool:
    """The site's 400 page once there is one (`400.html`), else the message as text."""
    if any(template.name == "400.html" for template in response.templates):
        return True
    return message in response.content.decode()


def post_raw(client, url: str, body: bytes, method: str = "POST"):
    return client.generic(
        method, url, body, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )


# --- a multipart body cut off ------------------------------------------------------------


@pytest.mark.parametrize("cut", ["end", "file"])
def test_a_cut_off_upload_from_the_web_form_is_400_and_saves_nothing(staff_client, pellet, cut):
    response = post_raw(staff_client, "/measurements/new/", multipart(_upload_fields(pellet), cut))
    assert response.status_code == 400
    assert answered_by_the_middleware(response, TRUNCATED)
    assert not Measurement.objects.exists() and not RawFile.objects.exists()


@pytest.mark.parametrize("cut", ["end", "file"])
def test_a_cut_off_upload_to_the_api_is_400_and_saves_nothing(api, pellet, cut):
    response = post_raw(api, "/api/measurements/", multipart(_upload_fields(pellet), cut))
    assert response.status_code == 400
    assert response.json() == {"detail": TRUNCATED}
    assert not Measurement.objects.exists() and not RawFile.objects.exists()


def test_the_same_body_complete_is_saved_with_its_file(api, staff_client, pellet):
    response = post_raw(api, "/api/measurements/", multipart(_upload_fields(pellet)))
    assert response.status_code == 201, response.content
    assert [f["filename"] for f in response.json()["files"]] == ["p.mpt"]
    response = post_raw(staff_client, "/measurements/new/", multipart(_upload_fields(pellet)))
    assert response.status_code == 302
    assert Measurement.objects.count() == 2 and RawFile.objects.count() == 1


def test_a_cut_off_change_of_a_measurement_is_400(api, pellet):
    code = api.post(
        "/api/measurements/", {"item": pellet.code, "technique": "eis"}, format="json"
    ).json()["code"]
    body = multipart({"notes": "re-measured", "temperature_c": "40"}, cut="end")
    response = post_raw(api, f"/api/measurements/{code}/", body, method="PATCH")
    assert response.status_code == 400
    assert response.json() == {"detail": TRUNCATED}
    assert Measurement.objects.get().temperature_c is None
    files = post_raw(api, f"/api/measurements/{code}/files/", multipart({"files": _file()}, "file"))
    assert files.status_code == 400 and not RawFile.objects.exists()


# --- NUL in addresses, queries and form values -------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/search/?q=PEL%00",
        "/items/PEL-%000001/",
        "/measurements/raw/%00/",
        "/synthesis/pellets/?sintering_temperature_c=%00",
        "/cells/?ancestor=LAGP-0001%00",
    ],
)
def test_a_nul_in_a_web_address_or_query_is_400(staff_client, db, url):
    response = staff_client.get(url)
    assert response.status_code == 400
    assert answered_by_the_middleware(response, CANNOT)


@pytest.mark.parametrize(
    "url, detail",
    [
        ("/api/pellets/?q=%00", f"The query parameter 'q' {CANNOT}"),
        ("/api/items/?%00=1", f"The query parameter '\\x00' {CANNOT}"),
        ("/api/items/PEL-%000001/", f"The address {CANNOT}"),
        ("/api/measurements/MEAS-0001/data/?every=%00", f"The query parameter 'every' {CANNOT}"),
    ],
)
def test_a_nul_in_an_api_address_or_query_is_400_in_json(api, db, url, detail):
    response = api.get(url)
    assert response.status_code == 400
    assert response.json() == {"detail": detail}


def test_a_nul_in_a_web_form_value_is_400_and_saves_nothing(staff_client, db):
    chemical = factories.ChemicalFactory(name="Lithium foil")
    data = {
        "chemical": chemical.pk,
        "supplier": "Honjo\x00",
        "lot_number": "H7",
        "quantity": "500",
        "quantity_unit": "g",
    }
    response = staff_client.post("/synthesis/reagents/new/", data)
    assert response.status_code == 400
    assert answered_by_the_middleware(response, f"The form field 'supplier' {CANNOT}")
    assert not ReagentLot.objects.exists()
    data["supplier"] = "Honjo"
    assert staff_client.post("/synthesis/reagents/new/", data).status_code == 302


def test_a_nul_in_a_multipart_value_is_400_naming_it(api, pellet):
    fields = {**_upload_fields(pellet), "notes": "cell 7\x00"}
    response = post_raw(api, "/api/measurements/", multipart(fields))
    assert response.status_code == 400
    assert response.json() == {"detail": f"The form field 'notes' {CANNOT}"}
    assert not Measurement.objects.exists() and not RawFile.objects.exists()


def test_the_answer_without_a_400_template_is_the_message_as_text(client, db, settings):
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [], "APP_DIRS": False}]
    response = client.get("/search/?q=%00")
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == f"The query parameter 'q' {CANNOT}"


def test_an_upload_whose_connection_ends_early_is_400_on_a_real_server(
    transactional_db, live_server, django_user_model
):
    """Over a socket, as a script whose network dropped mid-upload: fewer bytes than its
    Content-Length, then the end of the stream."""
    import http.client
    import socket
    from urllib.parse import urlparse

    from core.api.tokens import token_rotate

    user = django_user_model.objects.create_user("up", password="pw-up-12345", is_staff=True)
    factories.join(user, "manager")
    pellet = factories.pellets(count=1)[0]
    body = multipart(_upload_fields(pellet))
    sent = body[: len(body) // 2]
    url = urlparse(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.putrequest("POST", "/api/measurements/")
    connection.putheader("Authorization", f"Token {token_rotate(user).key}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(sent)
    connection.sock.shutdown(socket.SHUT_WR)
    response = connection.getresponse()
    assert response.status == 400
    assert json.loads(response.read()) == {"detail": TRUNCATED}
    assert not Measurement.objects.exists() and not RawFile.objects.exists()
