"""Cycling data as Battery Data Format CSV (issue 12 §3): `?format=bdf` on the data endpoint
streams a real Maccor test in BDF's column labels and units (what navani and cellpy read)."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from measurements import selectors
from tests.conftest import token_client
from tests.instrument_files import ROOT
from tests.operations.test_backup import upload
from tests.store import use_private_store

MACCOR = ROOT / "cellpy" / "maccor_three.txt"
MPT = ROOT / "impedance.py" / "exampleDataBioLogic.mpt"


@pytest.fixture
def api(settings, tmp_path, demo, staff):
    use_private_store(settings, tmp_path / "store")
    return token_client(staff)


def test_cycling_data_as_bdf_csv(api, django_capture_on_commit_callbacks):
    m = upload(
        api, "CELL-0005", "cycling", MACCOR, django_capture_on_commit_callbacks, active_mass_mg=3
    )
    response = api.get(f"/api/measurements/{m.code}/data/?format=bdf")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{m.code}.bdf.csv"'
    bdf = pl.read_csv(io.BytesIO(b"".join(response.streaming_content)))
    assert bdf.columns[:5] == [
        "Test Time / s",
        "Voltage / V",
        "Current / A",
        "Cycle Count / 1",
        "Step Index / 1",
    ]
    parsed = selectors.parsed_frame(m)
    assert bdf.height == parsed.height > 1000
    assert bdf["Test Time / s"].to_list() == pytest.approx(parsed["time_s"].to_list())
    assert bdf["Voltage / V"].to_list() == pytest.approx(parsed["voltage_V"].to_list())
    # mA -> A, the sign kept (> 0 charges): BDF's convention is the canonical one.
    assert bdf["Current / A"].to_list() == pytest.approx(
        (parsed["current_mA"] / 1000).to_list(), rel=1e-12, abs=1e-15
    )
    assert bdf["Current / A"].max() > 0 > bdf["Current / A"].min()
    assert bdf["Cycle Count / 1"].to_list() == parsed["cycle"].to_list()
    thinned = api.get(f"/api/measurements/{m.code}/data/?format=bdf&every=10")
    assert pl.read_csv(io.BytesIO(b"".join(thinned.streaming_content))).height == len(
        range(0, parsed.height, 10)
    )


def test_bdf_of_an_impedance_spectrum_is_refused(api, django_capture_on_commit_callbacks):
    m = upload(
        api, "PEL-0003", "eis", MPT, django_capture_on_commit_callbacks, area_cm2=1.0,
        temperature_c=25,
    )  # fmt: skip
    response = api.get(f"/api/measurements/{m.code}/data/?format=bdf")
    assert response.status_code == 400
    # The error body is JSON, as for ?format=csv (the renderer of the requested format).
    message = json.loads(response.content)["format"][0]
    assert "BDF holds cycler time series" in message and m.code in message
