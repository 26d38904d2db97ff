"""Measurement options are checked against what the chosen format takes, when saved (by the
service, so the API and the web pages answer the same); raw files and data download with a
token."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from measurements import services
from measurements.models import Measurement
from tests import factories


@pytest.fixture
def pellet(db):
    return factories.pellets(count=1)[0]


def _create(api, pellet, **fields):
    body = {"item": pellet.code, "technique": "cycling", **fields}
    return api.post("/api/measurements/", body, format="json")


# --- 10. options -----------------------------------------------------------------------


GENERIC_OPTIONS = "kind, mapping, units, delimiter, decimal, skip_rows, header, sheet"


@pytest.mark.parametrize(
    "parser, options, errors",
    [
        (
            "generic_csv",
            {"mapping": {"time_s": "t"}, "colour": "red"},
            [f"colour: not an option of this format (options it takes: {GENERIC_OPTIONS})"],
        ),
        (
            "generic_csv",
            {"mapping": {"volts": "U"}},
            [
                "mapping: 'volts' is not a canonical column; use one of: time_s, voltage_V, "
                "current_mA, cycle, step, step_capacity_mAh, step_energy_mWh, frequency_Hz, "
                "z_real_ohm, z_imag_ohm, temperature_C, mass_mg, mass_pct, two_theta_deg, "
                "intensity"
            ],
        ),
        (
            "generic_csv",
            {"kind": "eis", "mapping": {"voltage_V": "U", "frequency_Hz": "f"}},
            ["mapping: voltage_V: not in eis data, which has frequency_Hz, z_real_ohm, z_imag_ohm"],
        ),
        (
            "generic_csv",
            {"mapping": {"time_s": True}, "units": {"current_mA": "1000"}, "skip_rows": -1},
            [
                "mapping: time_s: give the file's column name or its 0-based index",
                "units: current_mA: the scale factor must be a non-zero number",
                "skip_rows: must be a whole number from 0 to 100000",
            ],
        ),
        (
            "generic_csv",
            {"kind": "nmr", "header": "yes"},
            [
                "kind: 'nmr' is not one of: cycling, eis, tga, xrd",
                "header: must be true or false",
            ],
        ),
        (
            "biologic_mpt",
            {"mapping": {"time_s": "t"}},
            ["mapping: not an option of this format (options it takes: kind)"],
        ),
        (
            "maccor",
            {"kind": "eis"},
            ["kind: not an option of this format (options it takes: none)"],
        ),
        (
            "",
            {"cycle_mode": "sometimes"},
            ["cycle_mode: 'sometimes' is not one of: chg, dchg, auto"],
        ),
    ],
)
def test_options_a_format_does_not_take_are_400_naming_the_option(
    api, pellet, parser, options, errors
):
    response = _create(api, pellet, parser=parser, options=options)
    assert response.status_code == 400
    assert response.json() == {"options": errors}
    assert not Measurement.objects.exists()


def test_options_a_format_takes_are_saved(api, pellet):
    options = {
        "kind": "cycling",
        "mapping": {"time_s": "Time [s]", "voltage_V": 1, "current_mA": "I [A]"},
        "units": {"current_mA": 1000},
        "delimiter": ";",
        "decimal": ",",
        "skip_rows": 2,
        "header": True,
    }
    response = _create(api, pellet, parser="generic_csv", options=options)
    assert response.status_code == 201, response.json()
    assert Measurement.objects.get().options == options
    assert _create(api, pellet, options={"kind": "eis"}).status_code == 201
    response = _create(api, pellet, parser="neware_ndax", options={"cycle_mode": "auto"})
    assert response.status_code == 201


def test_options_are_an_object_of_bounded_size(api, pellet):
    response = _create(api, pellet, options=["kind", "eis"])
    assert response.json() == {"options": ['Must be a JSON object, e.g. {"kind": "eis"}.']}
    huge = {"mapping": {"time_s": "t" * 20_000}}
    response = _create(api, pellet, parser="generic_csv", options=huge)
    assert response.json() == {
        "options": ["Must be at most 10000 characters of JSON (this is 20027)."]
    }


def test_changing_the_parser_rechecks_the_options_already_saved(api, pellet):
    code = _create(api, pellet, options={"kind": "eis"}).json()["code"]
    response = api.patch(f"/api/measurements/{code}/", {"parser": "maccor"}, format="json")
    assert response.json() == {
        "options": ["kind: not an option of this format (options it takes: none)"]
    }
    assert Measurement.objects.get().parser == ""


def test_the_web_pages_get_the_same_answer_from_the_service(pellet):
    from django.core.exceptions import ValidationError

    measurement = services.measurement_create(item=pellet, fields={"technique": "cycling"})
    with pytest.raises(ValidationError) as error:
        services.measurement_set_mapping(measurement, kind="eis", mapping={"voltage_V": "U"})
    assert error.value.message_dict == {
        "options": [
            "mapping: voltage_V: not in eis data, which has frequency_Hz, z_real_ohm, z_imag_ohm"
        ]
    }


# --- 11. raw files and data with a token --------------------------------------------------


RAW = b"EC-Lab ASCII FILE\r\nNb header lines : 3\r\n" + bytes(range(256))


def test_a_raw_file_downloads_with_a_token_byte_for_byte(api, viewer_api, anon_api, pellet):
    response = api.post(
        "/api/measurements/",
        {"item": pellet.code, "technique": "eis", "files": [SimpleUploadedFile("p.mpt", RAW)]},
        format="multipart",
    )
    link = response.json()["files"][0]["download"]
    sha = hashlib.sha256(RAW).hexdigest()
    assert link == f"/api/raw-files/{sha}/"
    download = viewer_api.get(link)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == RAW
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"] == 'attachment; filename="p.mpt"'
    assert download["X-Content-Type-Options"] == "nosniff"
    assert viewer_api.get(link, HTTP_ACCEPT="application/octet-stream").status_code == 200
    assert (
        viewer_api.get(link.upper().replace("/API/RAW-FILES/", "/api/raw-files/")).status_code
        == 200
    )
    assert anon_api.get(link).status_code == 401
    # The web page's link is for browsers: a token client is sent to the login page.
    assert viewer_api.get(f"/measurements/raw/{sha}/").status_code == 302


def test_an_unknown_raw_file_is_a_json_404(api, db):
    response = api.get(f"/api/raw-files/{'0' * 64}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No raw file with this SHA-256."}
    assert api.get("/api/raw-files/not-a-hash/").status_code == 404


def test_data_and_cycles_read_with_a_token(
    viewer_api, api, tmp_path, django_capture_on_commit_callbacks
):
    from demo.synthetic.files import write_maccor_cycling

    cell = factories.full_cell()
    path = write_maccor_cycling(
        tmp_path / "c.txt", n_cycles=3, rows_per_cycle=40, active_mass_mg=cell.active_mass_mg
    )
    with django_capture_on_commit_callbacks(execute=True):
        code = api.post(
            "/api/measurements/",
            {
                "item": cell.code,
                "technique": "cycling",
                "files": [SimpleUploadedFile("c.txt", path.read_bytes())],
            },
            format="multipart",
        ).json()["code"]
    cycles = viewer_api.get(f"/api/measurements/{code}/cycles/")
    assert cycles.status_code == 200 and cycles.json()["count"] == 3
    data = viewer_api.get(f"/api/measurements/{code}/data/?format=parquet")
    assert data.status_code == 200 and data["Content-Type"] == "application/vnd.apache.parquet"
