"""Upload -> store -> a real worker process on the broker (Redis in CI) -> results in the
database (PostgreSQL in CI)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from demo.synthetic import exports
from demo.synthetic import spectra as syn
from measurements.analysis import eis
from measurements.models import Measurement, Result
from synthesis.services import pellets_measure
from tests import factories
from tests.instrument_files import ROOT as INSTRUMENT_FILES
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SHARED = INSTRUMENT_FILES


def finished(code):
    m = Measurement.objects.get(code=code)
    return m if m.status in ("done", "done_with_warnings", "needs_input", "failed") else None


def test_an_uploaded_spectrum_is_fitted_by_the_worker(
    celery_worker_process, client, staff, tmp_path
):
    client.force_login(staff)
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6}})
    path = exports.write_mpt_eis(
        tmp_path / "p.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT)
    )
    response = client.post(
        "/measurements/new/",
        {
            "item": pellet.code,
            "technique": "eis",
            "eis_model": "auto",
            "reference_cycle": "1",
            "area_cm2": str(0.06 / (329.2 * 3.25e-4)),
            "files": [SimpleUploadedFile("p.mpt", path.read_bytes())],
        },
    )
    assert response.status_code == 302
    code = Measurement.objects.get().code
    m = wait_for(lambda: finished(code))
    assert m.status == "done", m.status_detail
    sigma = Result.objects.get(measurement=m, kind="conductivity").values["conductivity_s_cm"]
    assert f"{sigma:.2e}" == "3.25e-04"


def test_a_malformed_file_fails_with_its_line_and_the_worker_carries_on(
    celery_worker_process, client, staff
):
    client.force_login(staff)
    cell = factories.full_cell()
    # Real Maccor export (jepegit/cellpy testdata, MIT) with a line cut short.
    lines = (SHARED / "cellpy" / "maccor_three.txt").read_bytes().split(b"\n")
    lines[811] = b"\t".join(lines[811].split(b"\t")[:4])
    response = client.post(
        "/measurements/new/",
        {
            "item": cell.code,
            "technique": "cycling",
            "eis_model": "auto",
            "reference_cycle": "1",
            "files": [SimpleUploadedFile("broken.txt", b"\n".join(lines))],
        },
    )
    assert response.status_code == 302
    m = wait_for(lambda: finished(Measurement.objects.get().code))
    assert m.status == "failed"
    assert "line 812: expected 13 columns, found 4" in m.status_detail
    assert celery_worker_process.poll() is None
    # The same worker then processes a good file.
    good = (SHARED / "cellpy" / "maccor_three.txt").read_bytes()
    client.post(
        f"/measurements/{m.code}/files/", {"files": [SimpleUploadedFile("maccor_three.txt", good)]}
    )
    broken = Measurement.objects.get(pk=m.pk).files.get(filename="broken.txt")
    client.post(f"/measurements/{m.code}/files/{broken.pk}/remove/")
    done = wait_for(
        lambda: (x := Measurement.objects.get(pk=m.pk)).status == "done_with_warnings" and x
    )
    assert done.cycles.count() == 15
    # A ~0.9 Ah cell read with the test cell's 3 mg of NCM811: computed, and said to be doubtful.
    assert "above NCM811's theoretical capacity of 275 mAh/g" in done.status_detail
