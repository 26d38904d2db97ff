"""Measurement pages: upload through the web form, results, re-run, mapping, limits."""

import re

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from demo.synthetic import exports
from demo.synthetic import spectra as syn
from measurements.analysis import eis
from measurements.models import Measurement, RawFile
from synthesis.services import pellets_measure
from tests import factories
from tests.instrument_files import ROOT as INSTRUMENT_FILES

SHARED = INSTRUMENT_FILES
LAGP_AREA_CM2 = 0.06 / (329.2 * 3.25e-4)


@pytest.fixture
def pellet(db):
    p = factories.pellets(count=1)[0]
    pellets_measure({p: {"thickness_mm": 0.6}})
    return p


def post_measurement(client, pellet, files, **fields):
    data = {
        "item": pellet.code,
        "technique": "eis",
        "eis_model": "auto",
        "reference_cycle": "1",
        "parser": "",
        **fields,
        "files": files,
    }
    return client.post("/measurements/new/", data)


def test_uploading_a_spectrum_through_the_form_shows_the_conductivity(
    staff_client, pellet, tmp_path, django_capture_on_commit_callbacks
):
    path = exports.write_mpt_eis(
        tmp_path / "pel.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post_measurement(
            staff_client,
            pellet,
            [SimpleUploadedFile("pel.mpt", path.read_bytes())],
            area_cm2=str(LAGP_AREA_CM2),
            temperature_c="25",
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    body = staff_client.get(response.url).content.decode()
    assert "3.25e-04" in body
    assert "R0-p(R1,CPE1)-CPE2" in body
    item_page = staff_client.get(f"/items/{pellet.code}/").content.decode()
    assert Measurement.objects.get().code in item_page


def test_several_files_at_once_and_a_duplicate_is_linked_once(
    staff_client, pellet, django_capture_on_commit_callbacks
):
    # Real Maccor exports (jepegit/cellpy testdata, MIT).
    three = (SHARED / "cellpy" / "maccor_three.txt").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_measurement(
            staff_client,
            pellet,
            [SimpleUploadedFile("a.txt", three), SimpleUploadedFile("a-again.txt", three)],
            technique="cycling",
            active_mass_mg="3.054",
        )
    assert response.status_code == 302
    measurement = Measurement.objects.get()
    assert RawFile.objects.count() == 1 and measurement.files.count() == 1


def test_bad_input_is_named_and_nothing_is_written(staff_client, pellet):
    response = post_measurement(staff_client, pellet, [], area_cm2="-1", technique="eis")
    assert response.status_code == 400
    assert "Must be greater than zero." in response.content.decode()
    response = post_measurement(staff_client, pellet, [], item="PEL-9999")
    assert "No item with code" in response.content.decode()
    assert not Measurement.objects.exists()


def test_read_only_users_cannot_upload_or_rerun(viewer_client, pellet):
    response = post_measurement(viewer_client, pellet, [])
    assert response.status_code == 403  # the styled page, not the login form
    assert "read-only" in response.content.decode()
    assert not Measurement.objects.exists()


@override_settings(LIMS_MAX_UPLOAD_BYTES=1000)
def test_an_upload_over_the_limit_is_refused_with_413(staff_client, pellet):
    response = post_measurement(staff_client, pellet, [SimpleUploadedFile("big.mpt", b"x" * 5000)])
    assert response.status_code == 413
    assert not RawFile.objects.exists()


def test_a_generic_csv_is_processed_after_the_user_confirms_the_mapping(
    staff_client, pellet, django_capture_on_commit_callbacks
):
    # impedance.py's headerless example spectrum: f, Re(Z), Im(Z) (ECSHackWeek, MIT).
    data = (SHARED / "impedance.py" / "exampleData.csv").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        post_measurement(
            staff_client, pellet, [SimpleUploadedFile("spectrum.csv", data)], parser="generic_csv"
        )
    measurement = Measurement.objects.get()
    measurement.refresh_from_db()
    assert measurement.status == "failed" and "needs a column mapping" in measurement.status_detail
    page = staff_client.get(measurement.get_absolute_url()).content.decode()
    assert "Column mapping" in page and "column_1" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"/measurements/{measurement.code}/mapping/",
            {
                "kind": "eis",
                "map_frequency_Hz": "column_1",
                "map_z_real_ohm": "column_2",
                "map_z_imag_ohm": "column_3",
            },
        )
    assert response.status_code == 302
    measurement.refresh_from_db()
    # The pellet has a thickness but no diameter: the spectrum is fitted with the mapping, and
    # the conductivity waits for the electrode area.
    assert measurement.status == "needs_input", measurement.status_detail
    assert "electrode area (cm²)" in measurement.status_detail
    assert measurement.results.filter(kind="eis_fit").exists()
    assert measurement.files.get().parsed_rows == 66


def test_rerun_queues_a_new_run(staff_client, pellet, django_capture_on_commit_callbacks):
    path_bytes = (SHARED / "impedance.py" / "exampleDataZPlot.z").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        post_measurement(staff_client, pellet, [SimpleUploadedFile("z.z", path_bytes)])
    measurement = Measurement.objects.get()
    first_run = measurement.run
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(f"/measurements/{measurement.code}/rerun/")
    measurement.refresh_from_db()
    # Finished again (the pellet has no diameter, so the conductivity waits for an area).
    assert measurement.run == first_run + 1 and measurement.status == "needs_input"


def test_the_form_takes_a_circuit_and_labelled_conductivities_and_shows_each(
    staff_client, pellet, tmp_path, django_capture_on_commit_callbacks
):
    path = exports.write_mpt_eis(
        tmp_path / "pel.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT)
    )
    upload = [SimpleUploadedFile("pel.mpt", path.read_bytes())]
    refused = post_measurement(
        staff_client, pellet, upload, area_cm2=str(LAGP_AREA_CM2), eis_model="R0-p(R1,CPE1"
    )
    assert refused.status_code == 400  # the form again, with the reason next to the field
    page = refused.content.decode()
    assert "expected &#x27;,&#x27; or &#x27;)&#x27; to close p(" in page
    assert 'list="builtin-circuits"' in page and "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3" in page
    assert "Nothing was saved: choose the file(s) again (pel.mpt)." in page
    assert not Measurement.objects.exists()
    path_bytes = path.read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_measurement(
            staff_client,
            pellet,
            [SimpleUploadedFile("pel.mpt", path_bytes)],
            area_cm2=str(LAGP_AREA_CM2),
            eis_model=eis.GRAIN_BOUNDARY,
            conductivity_resistances="bulk=R0; total=R0+R1",
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    body = staff_client.get(response.url).content.decode()
    assert 'data-label="bulk"' in body and 'data-label="total"' in body
    assert "total (headline)" in body and "3.25e-04" in body
    assert 'data-testid="linkk"' in body and "consistent" in body


def test_an_xrd_pattern_shows_its_range_and_strongest_peak(
    staff_client, pellet, django_capture_on_commit_callbacks
):
    """The real datalab .xy file; the strongest peak read independently with numpy."""
    path = INSTRUMENT_FILES / "datalab/example_ocx.xy"
    two_theta, intensity = np.loadtxt(path, delimiter=",", skiprows=1, unpack=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_measurement(
            staff_client,
            pellet,
            [SimpleUploadedFile("example_ocx.xy", path.read_bytes())],
            technique="xrd",
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Measurement.objects.get().status == "done"
    body = staff_client.get(response.url).content.decode()
    assert "XRD pattern" in body and "1876" in body
    peak = re.search(r'class="strongest-peak">([^<]+)<', body).group(1)
    assert float(peak) == pytest.approx(two_theta[np.argmax(intensity)], abs=0.01)
    assert f"{two_theta.min():g}" in body and f"{two_theta.max():g}" in body
