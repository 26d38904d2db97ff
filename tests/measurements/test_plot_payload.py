"""The plot payload a measurement page embeds and `/api/measurements/<code>/plot/` returns:
one selector, the same JSON, the cycles a person asks for, errors that name the field, and a
cache that a re-run does not fool."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from demo.synthetic import exports
from demo.synthetic import spectra as syn
from measurements import plot_payload, services
from measurements.analysis import eis
from measurements.models import Result
from tests import factories
from tests.measurements.test_pipeline import measure, upload

RATES = {0.1: 200.0, 0.2: 190.0, 0.5: 153.0, 1.0: 128.0}


@pytest.fixture
def rate_test(db, tmp_path, django_capture_on_commit_callbacks):
    """A 20-cycle rate test (5 cycles at each of 0.1, 0.2, 0.5 and 1C) on a full cell."""
    cell = factories.full_cell()
    frame = syn.cycling_frame(
        syn.rate_test_programme(RATES),
        active_mass_g=cell.active_mass_mg / 1000,
        points_per_step=60,
        rest_points=4,
    )
    path = exports.write_mpt_galvanostatic(tmp_path / "rate.mpt", frame)
    m = measure(cell, "cycling", [upload(path)], django_capture_on_commit_callbacks)
    assert m.status == "done", m.status_detail
    return m


def embedded(response) -> dict:
    body = response.content.decode()
    found = re.search(r'<script id="plot-data" type="application/json">(.*?)</script>', body, re.S)
    assert found, "the page embeds no plot payload"
    return json.loads(found.group(1))


def test_page_and_api_give_the_same_payload_for_the_cycles_asked(rate_test, staff_client, api):
    page = staff_client.get(f"/measurements/{rate_test.code}/?cycles=20,1")
    assert page.status_code == 200
    payload = embedded(page)
    answer = api.get(f"/api/measurements/{rate_test.code.lower()}/plot/?cycles=1,20")
    assert answer.status_code == 200
    assert answer.json() == payload
    assert payload["type"] == "cycling" and payload["capacity_unit"] == "mAh/g"
    assert payload["summary"]["cycle"] == list(range(1, 21))
    assert payload["summary"]["discharge"][0] == pytest.approx(200.0, rel=1e-3)
    assert payload["cycles"]["chosen"] == [1, 20]
    curves = {(c["cycle"], c["direction"]): c for c in payload["curves"]}
    assert set(curves) == {(1, "charge"), (1, "discharge"), (20, "charge"), (20, "discharge")}
    # Each curve ends at the capacity the per-cycle plot shows for that cycle (1C: 128 mAh/g).
    assert curves[(20, "discharge")]["capacity"][-1] == pytest.approx(128.0, rel=1e-3)
    assert curves[(1, "charge")]["capacity"][-1] == pytest.approx(
        payload["summary"]["charge"][0], rel=1e-4
    )
    # dQ/dV of the same cycles: charge positive, discharge negative.
    signs = {(d["cycle"], d["direction"]): np.sign(np.nansum(d["dqdv"])) for d in payload["dqdv"]}
    assert signs == {
        (1, "charge"): 1,
        (1, "discharge"): -1,
        (20, "charge"): 1,
        (20, "discharge"): -1,
    }
    assert payload["rate"]["label"] == ["0.1C (1–5)", "0.2C (6–10)", "0.5C (11–15)", "1C (16–20)"]
    assert payload["rate"]["discharge"] == pytest.approx(list(RATES.values()), rel=1e-3)


def test_the_default_cycles_and_cycles_the_test_does_not_have(rate_test, staff_client, api):
    payload = embedded(staff_client.get(f"/measurements/{rate_test.code}/"))
    assert payload["cycles"]["chosen"] == [1, 10, 20]  # no 100th cycle in a 20-cycle test
    page = staff_client.get(f"/measurements/{rate_test.code}/?cycles=1,99")
    assert page.status_code == 200
    assert "Not in this test, so not drawn: cycle 99." in page.content.decode()
    assert embedded(page)["cycles"]["chosen"] == [1]
    assert api.get(f"/api/measurements/{rate_test.code}/plot/?cycles=1,99").json()["cycles"][
        "missing"
    ] == [99]


@pytest.mark.parametrize(
    "asked, message",
    [
        ("1,abc", "“abc” is not a cycle number"),
        ("99", "99 is not in this test (cycles 1–20)"),
        (",".join(str(n) for n in range(1, 14)), "at most 12 cycles at once"),
    ],
)
def test_cycles_that_cannot_be_used_are_a_400_naming_the_field(
    rate_test, staff_client, api, asked, message
):
    answer = api.get(f"/api/measurements/{rate_test.code}/plot/", {"cycles": asked})
    assert answer.status_code == 400
    assert message in answer.json()["cycles"][0]
    page = staff_client.get(f"/measurements/{rate_test.code}/", {"cycles": asked})
    assert page.status_code == 400
    body = page.content.decode()
    assert f"cycles: {message}" in body and "Showing the default cycles." in body
    assert embedded(page)["cycles"]["chosen"] == [1, 10, 20]


def test_the_payload_is_cached_per_run_and_rebuilt_after_a_rerun(
    rate_test, api, monkeypatch, django_capture_on_commit_callbacks
):
    url = f"/api/measurements/{rate_test.code}/plot/"
    first = api.get(url).json()  # built by the worker when the run finished
    calls = []
    monkeypatch.setattr(
        plot_payload, "build", lambda *a, **k: calls.append(a) or {"type": "rebuilt"}
    )
    assert api.get(url).json() == first and calls == []
    with django_capture_on_commit_callbacks(execute=True):
        services.measurement_reprocess(rate_test)
    assert calls, "a re-run must not be answered from the previous run's cache"


def test_nothing_to_plot_before_processing_is_a_404(db, api, tmp_path):
    cell = factories.full_cell()
    path = exports.write_mpt_galvanostatic(
        tmp_path / "c.mpt", syn.cycling_frame(syn.full_cell_programme(2), points_per_step=20)
    )
    m = services.measurement_create(
        item=cell, fields={"technique": "cycling"}, uploads=[upload(path)]
    )
    answer = api.get(f"/api/measurements/{m.code}/plot/")
    assert answer.status_code == 404
    assert "Nothing to plot" in answer.json()["detail"]


def test_eis_payload_has_frequency_for_every_point_and_the_fit(
    db, tmp_path, django_capture_on_commit_callbacks, api
):
    pellet = factories.pellets(count=1)[0]
    spectrum = syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT, seed=1)
    path = exports.write_mpt_eis(tmp_path / "p.mpt", spectrum)
    m = measure(
        pellet,
        "eis",
        [upload(path)],
        django_capture_on_commit_callbacks,
        thickness_um=600.0,
        area_cm2=0.56,
    )
    payload = api.get(f"/api/measurements/{m.code}/plot/").json()
    data = payload["data"]
    assert len(data["f"]) == len(data["zr"]) == spectrum.height
    assert data["f"][0] == pytest.approx(spectrum["frequency_Hz"][0], rel=1e-5)
    # Bode: |Z| and -phase from Z' and -Z''.
    z = np.array(data["zr"]) - 1j * np.array(data["mzi"])
    assert np.allclose(data["mod"], np.abs(z), rtol=1e-5)
    assert np.allclose(data["mphase"], -np.degrees(np.angle(z)), atol=1e-3)
    fitted = Result.objects.get(measurement=m, kind="eis_fit").values
    assert payload["model"] == fitted["model"] and len(payload["fit"]["f"]) == 300
    assert len(payload["kk"]["f"]) == spectrum.height


def test_stripping_payload_marks_failure_from_the_result(
    db, tmp_path, django_capture_on_commit_callbacks, api
):
    cell = factories.symmetric_cell()
    trace = syn.stripping_trace(
        syn.PAPER_STRIPPING_PROFILES["Li|LAGP|Li"], duration_h=150, points_per_hour=12, seed=150
    )
    path = exports.write_mpt_galvanostatic(tmp_path / "s.mpt", trace)
    m = measure(cell, "stripping", [upload(path)], django_capture_on_commit_callbacks)
    payload = api.get(f"/api/measurements/{m.code}/plot/").json()
    values = Result.objects.get(measurement=m, kind="stripping").values
    assert payload["failure_h"] == values["failure_time_h"] == pytest.approx(80.0)
    assert payload["short_h"] is None
    upper, lower = payload["envelope"]["upper"], payload["envelope"]["lower"]
    assert len(upper["v"]) + len(lower["v"]) == values["n_half_cycles"]
    # After the failure the envelope reaches the trace's largest |V|.
    assert max(upper["v"]) == pytest.approx(max(payload["trace"]["v"]))
