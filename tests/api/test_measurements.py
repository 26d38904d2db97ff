"""The measurement endpoints: multipart upload, state to poll, data as JSON/CSV/Parquet."""

import io
import json

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from demo.synthetic import exports
from demo.synthetic import spectra as syn
from demo.synthetic.files import write_maccor_cycling
from measurements.analysis import eis
from measurements.models import Measurement, RawFile, Result
from synthesis.services import pellets_measure
from tests import factories

LAGP_AREA_CM2 = 0.06 / (329.2 * 3.25e-4)


def streamed(response) -> bytes:
    """The body of a streamed answer (the data endpoint streams every format)."""
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


@pytest.fixture
def pellet(db):
    p = factories.pellets(count=1)[0]
    pellets_measure({p: {"thickness_mm": 0.6}})
    return p


@pytest.fixture
def spectrum_file(tmp_path):
    path = exports.write_mpt_eis(
        tmp_path / "p.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT, seed=1)
    )
    return path.read_bytes()


def test_multipart_create_processes_the_file_and_returns_the_conductivity(
    api, pellet, spectrum_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/measurements/",
            {
                "item": pellet.code,
                "technique": "eis",
                "area_cm2": LAGP_AREA_CM2,
                "temperature_c": 25,
                "files": [SimpleUploadedFile("p.mpt", spectrum_file)],
            },
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    code = response.json()["code"]
    status = api.get(f"/api/measurements/{code}/status/").json()
    assert status["status"] == "done"
    body = api.get(f"/api/measurements/{code}/").json()
    sigma = {r["kind"]: r for r in body["results"]}["conductivity"]
    assert f"{sigma['values']['conductivity_s_cm']:.2e}" == "3.25e-04"
    assert sigma["inputs"]["thickness_um"] == 600.0
    assert body["files"][0]["sha256"] == RawFile.objects.get().sha256

    csv = streamed(api.get(f"/api/measurements/{code}/data/?format=csv"))
    frame = pd.read_csv(io.StringIO(csv.decode()))
    assert list(frame.columns) == ["frequency_Hz", "z_real_ohm", "z_imag_ohm"]
    assert len(frame) == 61
    parquet = api.get(f"/api/measurements/{code}/data/?format=parquet")
    assert parquet["Content-Type"] == "application/vnd.apache.parquet"
    assert len(pd.read_parquet(io.BytesIO(streamed(parquet)))) == 61
    assert json.loads(streamed(api.get(f"/api/measurements/{code}/data/?every=10")))["count"] == 7


def test_the_per_cycle_table_of_a_full_cell(api, tmp_path, django_capture_on_commit_callbacks):
    cell = factories.full_cell()
    path = write_maccor_cycling(
        tmp_path / "c.txt", n_cycles=50, rows_per_cycle=40, active_mass_mg=cell.active_mass_mg
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
    table = pd.read_csv(
        io.StringIO(api.get(f"/api/measurements/{code}/cycles/?format=csv").content.decode())
    )
    assert len(table) == 50 and table["cycle"].tolist()[:3] == [1, 2, 3]
    assert table.loc[0, "discharge_mAh_g"] == pytest.approx(199, abs=0.5)
    results = api.get("/api/results/", {"measurement": code, "kind": "cycling_summary"}).json()
    assert results["results"][0]["values"]["first_charge_mAh_g"] == pytest.approx(217, abs=0.5)


def test_upload_more_files_and_reprocess_answer_202(
    api, pellet, spectrum_file, django_capture_on_commit_callbacks
):
    code = api.post(
        "/api/measurements/", {"item": pellet.code, "technique": "eis"}, format="json"
    ).json()["code"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/measurements/{code}/files/",
            {"files": [SimpleUploadedFile("p.mpt", spectrum_file)]},
            format="multipart",
        )
    assert response.status_code == 202
    # Processed; the pellet has no diameter, so the conductivity waits for an electrode area.
    assert Measurement.objects.get(code=code).status == "needs_input"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/measurements/{code}/reprocess/")
    assert response.status_code == 202
    assert Measurement.objects.get(code=code).run == 3  # create, upload, reprocess


def test_bad_requests_have_clear_answers(api, viewer_api, pellet, spectrum_file):
    response = api.post(
        "/api/measurements/", {"item": "PEL-9999", "technique": "eis"}, format="json"
    )
    assert response.status_code == 400 and "item" in response.json()
    response = api.post(
        "/api/measurements/", {"item": pellet.code, "technique": "nmr"}, format="json"
    )
    assert response.status_code == 400 and "technique" in response.json()
    response = api.post(
        "/api/measurements/",
        {"item": pellet.code, "technique": "eis", "area_cm2": -1},
        format="json",
    )
    assert response.status_code == 400 and "area_cm2" in response.json()
    code = api.post(
        "/api/measurements/", {"item": pellet.code, "technique": "eis"}, format="json"
    ).json()["code"]
    response = api.post(f"/api/measurements/{code}/files/", {"files": []}, format="json")
    assert response.status_code == 415
    assert api.get(f"/api/measurements/{code}/data/").status_code == 404
    assert api.get("/api/measurements/MEAS-9999/").status_code == 404
    response = viewer_api.post(
        f"/api/measurements/{code}/files/",
        {"files": [SimpleUploadedFile("p.mpt", spectrum_file)]},
        format="multipart",
    )
    assert response.status_code == 403
    assert Measurement.objects.count() == 1


@override_settings(LIMS_MAX_UPLOAD_BYTES=1000)
def test_an_upload_over_the_limit_is_413(api, pellet):
    response = api.post(
        "/api/measurements/",
        {
            "item": pellet.code,
            "technique": "eis",
            "files": [SimpleUploadedFile("big.mpt", b"x" * 5000)],
        },
        format="multipart",
    )
    assert response.status_code == 413
    assert not RawFile.objects.exists() and not Measurement.objects.exists()


def test_list_query_count_does_not_grow_with_rows(
    api, pellet, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    def create(n):
        for _ in range(n):
            api.post("/api/measurements/", {"item": pellet.code, "technique": "eis"}, format="json")

    create(1)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        api.get("/api/measurements/")
    create(15)
    with CaptureQueriesContext(connection) as many:
        assert api.get("/api/measurements/").json()["count"] == 16
    assert len(many) == len(one)


def test_a_result_keeps_its_id_and_address_across_re_runs(
    api, pellet, spectrum_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        code = api.post(
            "/api/measurements/",
            {
                "item": pellet.code,
                "technique": "eis",
                "area_cm2": LAGP_AREA_CM2,
                "files": [SimpleUploadedFile("p.mpt", spectrum_file)],
            },
            format="multipart",
        ).json()["code"]
    before = {
        r["kind"]: r for r in api.get("/api/results/", {"measurement": code}).json()["results"]
    }
    ids = {kind: Result.objects.get(measurement__code=code, kind=kind).pk for kind in before}
    with django_capture_on_commit_callbacks(execute=True):
        api.patch(f"/api/measurements/{code}/", {"thickness_um": 300}, format="json")
    conductivity = api.get(f"/api/results/{ids['conductivity']}/").json()
    assert conductivity["inputs"]["thickness_um"] == 300.0
    assert conductivity["values"]["conductivity_s_cm"] == pytest.approx(
        before["conductivity"]["values"]["conductivity_s_cm"] / 2
    )
    assert {r.kind: r.pk for r in Result.objects.filter(measurement__code=code)} == ids


def test_a_measurement_takes_any_circuit_and_names_its_conductivity_resistances(
    api, pellet, spectrum_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        code = api.post(
            "/api/measurements/",
            {
                "item": pellet.code,
                "technique": "eis",
                "area_cm2": LAGP_AREA_CM2,
                "files": [SimpleUploadedFile("p.mpt", spectrum_file)],
            },
            format="multipart",
        ).json()["code"]
    url = f"/api/measurements/{code}/"
    # A circuit of one's own needs its conductivity resistances; a wrong one says where.
    bad = api.patch(url, {"eis_model": "R0-p(R1,CPE1)-CPE2-X9"}, format="json")
    assert bad.status_code == 400
    assert "expected an element or p( at character 20 (near 'X9')" in str(bad.json()["eis_model"])
    unnamed = api.patch(url, {"eis_model": "R9-p(R1,CPE1)-CPE2"}, format="json")
    assert unnamed.status_code == 400
    assert "say which resistances of R9-p(R1,CPE1)-CPE2" in str(
        unnamed.json()["conductivity_resistances"]
    )
    wrong = api.patch(
        url,
        {"eis_model": "R9-p(R1,CPE1)-CPE2", "conductivity_resistances": "R0+R1"},
        format="json",
    )
    assert "'R0' is not a resistance of R9-p(R1,CPE1)-CPE2" in str(wrong.json())
    assert Measurement.objects.get(code=code).eis_model == "auto"  # nothing half-written
    with django_capture_on_commit_callbacks(execute=True):
        ok = api.patch(
            url,
            {
                "eis_model": "R9-p(R1,CPE1)-CPE2",
                "conductivity_resistances": "bulk = R9; total = R9+R1",
            },
            format="json",
        )
    assert ok.status_code == 200, ok.json()
    body = api.get(url).json()
    assert body["status"] == "done", body["status_detail"]
    sigma = {r["kind"]: r for r in body["results"]}["conductivity"]["values"]
    # The paper's pellet: R0 200 ohm (bulk) + R1 129.2 ohm -> 3.25e-4 S/cm in total.
    assert sigma["conductivities"]["bulk"]["resistance_ohm"] == pytest.approx(200.0, rel=0.02)
    assert sigma["headline"] == "total"
    assert f"{sigma['conductivity_s_cm']:.2e}" == "3.25e-04"
    assert sigma["conductivities"]["total"]["definition"] == "R9+R1"
