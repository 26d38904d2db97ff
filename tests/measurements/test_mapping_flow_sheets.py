"""Spreadsheets through the mapping step, without a browser: the web page (upload, preview,
choice of sheet, mapping, result) and the API (upload, mapping sent as options, per-cycle data).

Files: derived/chi_spectrum.ods (the CHI660E spectrum of ECSHackWeek/impedance.py@0b302ca9eabf,
MIT, in an OpenDocument sheet) and navani/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx
(the-grey-group/navani@922ffe190ae7, MIT); see tests/data/instrument-files/INDEX.md.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from measurements.models import Measurement, Result
from synthesis.services import pellets_measure
from tests import factories
from tests.instrument_files import instrument_file

ODS = instrument_file("derived/chi_spectrum.ods")
XLSX = instrument_file("navani/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx")
AREA_CM2 = 0.5608
THICKNESS_CM = 0.06
# impedance.py 1.7.1: R0 + R1 of R0-p(R1,CPE1)-CPE2 fitted (modulus-weighted) to the CHI
# spectrum, see test_parsers_eis_b.py.
IMPEDANCE_PY_R_OHM = 96.4342624 + 546.379354
# navani 0.1.22 half cycles of the Arbin sheet (mAh), see test_parsers_eis_b.py.
NAVANI_DISCHARGE_MAH = 5.798033 + 5.256826
NAVANI_CHARGE_MAH = 5.698108 + 0.004593


@pytest.fixture
def pellet(db):
    p = factories.pellets(count=1)[0]
    pellets_measure({p: {"thickness_mm": 0.6}})
    return p


def test_an_ods_sheet_is_mapped_on_the_page_and_gives_the_conductivity(
    staff_client, pellet, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("chi_spectrum.ods", ODS.read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/measurements/new/",
            {
                "item": pellet.code,
                "technique": "eis",
                "eis_model": "R0-p(R1,CPE1)-CPE2",
                "reference_cycle": "1",
                "parser": "",
                "area_cm2": str(AREA_CM2),
                "temperature_c": "25",
                "files": [upload],
            },
        )
    assert response.status_code == 302
    measurement = Measurement.objects.get()
    assert measurement.status == "failed"
    assert "is a spreadsheet (.ods): it needs a column mapping" in measurement.status_detail
    page = staff_client.get(measurement.get_absolute_url()).content.decode()
    assert "Sheet “Spectrum”" in page and 'href="?sheet=Notes"' in page
    assert "<th>Freq/Hz</th>" in page
    # The Notes sheet holds one sentence, no table: the page says so and keeps the data sheet.
    notes = staff_client.get(f"{measurement.get_absolute_url()}?sheet=Notes").content.decode()
    assert "no table found in sheet &#x27;Notes&#x27;" in notes and "Sheet “Spectrum”" in notes
    stale = staff_client.get(f"{measurement.get_absolute_url()}?sheet=Gone").content.decode()
    assert "no sheet &#x27;Gone&#x27; in the spreadsheet" in stale

    mapping = {
        "kind": "eis",
        "sheet": "Spectrum",
        "map_frequency_Hz": "Freq/Hz",
        "map_z_real_ohm": "Z'/ohm",
        "map_z_imag_ohm": 'Z"/ohm',
    }
    wrong_sheet = staff_client.post(
        f"/measurements/{measurement.code}/mapping/", {**mapping, "sheet": "Notes"}
    )
    assert wrong_sheet.status_code == 400  # Notes has no Freq/Hz column: nothing is saved
    measurement.refresh_from_db()
    assert measurement.status == "failed" and measurement.options == {}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/measurements/{measurement.code}/mapping/", mapping)
    assert response.status_code == 302
    measurement.refresh_from_db()
    # impedance.py's CHI example drifts: the Lin-KK check says so (1.3 % rms).
    assert measurement.status == "done_with_warnings", measurement.status_detail
    assert "Kramers-Kronig check (Lin-KK)" in measurement.status_detail
    assert measurement.parser == "generic_csv" and measurement.options["sheet"] == "Spectrum"
    assert measurement.files.get().parsed_rows == 73
    sigma = Result.objects.get(measurement=measurement, kind="conductivity").values
    expected = THICKNESS_CM / (IMPEDANCE_PY_R_OHM * AREA_CM2)  # 1.6643e-4 S/cm
    assert sigma["conductivity_s_cm"] == pytest.approx(expected, rel=1e-3)


def test_an_xlsx_sheet_is_mapped_through_the_api_and_gives_navanis_capacities(
    api, pellet, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/measurements/",
            {
                "item": pellet.code,
                "technique": "cycling",
                "active_mass_mg": "1.0",
                "files": [SimpleUploadedFile(XLSX.name, XLSX.read_bytes())],
            },
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    code = response.json()["code"]
    status = api.get(f"/api/measurements/{code}/status/").json()
    assert isinstance(status, dict), status
    assert status["status"] == "failed"
    assert "is a spreadsheet (.xlsx): it needs a column mapping" in status["status_detail"]

    options = {
        "kind": "cycling",
        "sheet": "Channel_11_1",
        "mapping": {
            "time_s": "Test_Time(s)",
            "voltage_V": "Voltage(V)",
            "current_mA": "Current(A)",
            "cycle": "Cycle_Index",
            "step": "Step_Index",
        },
        "units": {"current_mA": 1000},
    }
    bad = api.patch(
        f"/api/measurements/{code}/",
        {"parser": "generic_csv", "options": {**options, "sheet": ""}},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json() == {"options": ["sheet: must be the name of a sheet of the spreadsheet"]}
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"/api/measurements/{code}/",
            {"parser": "generic_csv", "options": options},
            format="json",
        )
    assert response.status_code == 200, response.json()
    status = api.get(f"/api/measurements/{code}/status/").json()
    # The test's 1 mg is no real active mass (navani's numbers are in mAh), and the file
    # starts with a discharge: both are flagged rather than shown silently.
    assert status["status"] == "done_with_warnings", status
    codes = {w["code"] for w in status["warnings"]}
    assert {"first_cycle_incomplete", "capacity_above_theoretical"} <= codes, codes
    cycles = api.get(f"/api/measurements/{code}/cycles/").json()
    rows = cycles["results"]
    # The instrument's cycle counter never advances: cycles come from the current's direction
    # (discharge; charge + discharge; a short charge), summing to navani's halves.
    assert [row["cycle"] for row in rows] == [1, 2, 3]
    discharge = sum(row["discharge_mAh"] or 0 for row in rows)
    charge = sum(row["charge_mAh"] or 0 for row in rows)
    assert discharge == pytest.approx(NAVANI_DISCHARGE_MAH, rel=1e-4)
    assert charge == pytest.approx(NAVANI_CHARGE_MAH, rel=2e-4)
