"""Every measurement page's plots, drawn by chromium: axis titles with units, the traces each
plot should have, and a legend that stays off the data, at a desktop and a phone width.
Measurements are the demo study's (generated instrument files, processed at upload), a rate
test, and the real XRD pattern in tests/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files import File

from core.audit import acting_as
from demo.records import load_demo, load_demo_measurements
from demo.synthetic import exports
from demo.synthetic import spectra as syn
from measurements.models import Measurement
from measurements.services import measurement_create
from tests.instrument_files import instrument_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("LIMS_SCREENSHOTS")  # a folder to keep screenshots in, for a human look

# What each plot must show: (axis, title) pairs and the number of traces.
EXPECTED = {
    "eis": {
        "plot": ({"xaxis": "Z′ (Ω)", "yaxis": "−Z″ (Ω)"}, 2),
        "plot-bode": (
            {"xaxis": "frequency (Hz)", "yaxis": "|Z| (Ω)", "yaxis2": "−phase (°)"},
            4,
        ),
        "plot-kk": ({"xaxis": "frequency (Hz)", "yaxis": "residual (% of |Z|)"}, 2),
    },
    "cycling": {
        "plot": (
            {
                "xaxis": "cycle number",
                "yaxis": "specific capacity (mAh/g)",
                "yaxis2": "coulombic efficiency (%)",
            },
            3,
        ),
        # Charge and discharge of the first, 10th, 100th and last of 400 cycles.
        "plot-vq": ({"xaxis": "specific capacity (mAh/g)", "yaxis": "voltage (V)"}, 8),
        "plot-dqdv": ({"xaxis": "voltage (V)", "yaxis": "dQ/dV (mAh/g per V)"}, 8),
    },
    "stripping": {"plot": ({"xaxis": "time (h)", "yaxis": "voltage (V)"}, 3)},
    "tga": {
        "plot": (
            {"xaxis": "temperature (°C)", "yaxis": "mass (%)", "yaxis2": "dm/dT (%/°C)"},
            3,
        )
    },
    "xrd": {"plot": ({"xaxis": "2θ (°)", "yaxis": "intensity (a.u.)"}, 1)},
}

# Per plot: axis titles, trace count, whether a legend shows, and whether the legend's box
# overlaps any subplot's plotting area (the drag rectangles Plotly draws over each).
INSPECT = """() => [...document.querySelectorAll('.plot-grid .plot')].map(el => {
  const axes = {};
  Object.keys(el.layout).filter(k => /^[xy]axis\\d*$/.test(k)).forEach(k => {
    axes[k] = el.layout[k].title && el.layout[k].title.text;
  });
  const legend = el.querySelector('.legend');
  const box = legend && legend.getBoundingClientRect();
  const overlaps = !box ? false : [...el.querySelectorAll('.nsewdrag')].some(d => {
    const r = d.getBoundingClientRect();
    return box.left < r.right && box.right > r.left && box.top < r.bottom - 1 && box.bottom > r.top + 1;
  });
  return {id: el.id, axes: axes, traces: el.data.length,
          legend: !!el._fullLayout.showlegend, legendY: el._fullLayout.legend && el._fullLayout.legend.y,
          overlaps: overlaps, width: el.getBoundingClientRect().width};
})"""


def _upload(user, item, technique, path, **fields) -> Measurement:
    with acting_as(user), open(path, "rb") as fh:
        return measurement_create(
            user=user, item=item, fields={"technique": technique, **fields}, uploads=[File(fh)]
        )


def _open(page, code, query=""):
    page.goto(f"/measurements/{code}/{query}")
    page.wait_for_function(
        "() => { const p = [...document.querySelectorAll('.plot-grid .plot')];"
        " return p.length > 0 && p.every(e => e.dataset.plotted === 'true'); }"
    )
    return {p["id"]: p for p in page.evaluate(INSPECT)}


def _check(plots, technique, extra=None):
    expected = {**EXPECTED[technique], **(extra or {})}
    assert set(plots) == set(expected), f"{technique}: plots {sorted(plots)}"
    for plot_id, (titles, traces) in expected.items():
        seen = plots[plot_id]
        for axis, title in titles.items():
            assert seen["axes"].get(axis) == title, f"{technique} {plot_id} {axis}: {seen['axes']}"
        assert all(seen["axes"].values()), f"{technique} {plot_id}: an axis without a title"
        assert seen["traces"] == traces, f"{technique} {plot_id}: {seen['traces']} traces"
        if seen["legend"]:
            assert seen["legendY"] >= 1, f"{technique} {plot_id}: legend inside the plot"
            assert not seen["overlaps"], f"{technique} {plot_id}: legend over the data"


def _shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_every_techniques_plots_have_titles_traces_and_a_legend_off_the_data(
    logged_in, staff, tmp_path
):
    page = logged_in
    records = load_demo(staff)
    load_demo_measurements(staff, records, tmp_path)  # processed at upload (eager worker)
    _upload(
        staff, records["batch"], "xrd", instrument_file("datalab/example_ocx.xy"), instrument="xrd"
    )
    cell = records["full_spe"]
    rate_file = exports.write_mpt_galvanostatic(
        tmp_path / "rate.mpt",
        syn.cycling_frame(
            syn.rate_test_programme(), active_mass_g=cell.active_mass_mg / 1000, rest_points=4
        ),
    )
    rate = _upload(staff, cell, "cycling", rate_file)
    first = {}
    for m in Measurement.objects.order_by("id"):
        assert m.status == "done", f"{m.code}: {m.status} {m.status_detail}"
        first.setdefault(m.technique, m)
    assert set(first) == set(EXPECTED)
    for width in (1300, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for technique, m in first.items():
            plots = _open(page, m.code)
            _check(plots, technique)
            # One column on a phone: every plot fits the screen's width.
            assert all(p["width"] <= width for p in plots.values())
            _shot(page, f"plots-{technique}-{width}")
        # The rate test: its C-rate blocks as bars (a single-rate test has no such plot).
        plots = _open(page, rate.code, "?cycles=1,20")
        rate_plot = {
            "plot-rate": (
                {"xaxis": "C-rate (cycles)", "yaxis": "mean discharge capacity (mAh/g)"},
                1,
            ),
            "plot-vq": ({"xaxis": "specific capacity (mAh/g)", "yaxis": "voltage (V)"}, 4),
            "plot-dqdv": ({"xaxis": "voltage (V)", "yaxis": "dQ/dV (mAh/g per V)"}, 4),
        }
        _check(plots, "cycling", rate_plot)
        bars = page.evaluate("() => document.getElementById('plot-rate').data[0].x")
        assert bars == ["0.1C (1–5)", "0.2C (6–10)", "0.5C (11–15)", "1C (16–20)"]
        _shot(page, f"plots-rate-{width}")


def test_choosing_cycles_redraws_and_keeps_the_choice_in_the_address(logged_in, staff, tmp_path):
    page = logged_in
    records = load_demo(staff)
    cell = records["full_spe"]
    frame = syn.cycling_frame(
        syn.full_cell_programme(60), active_mass_g=cell.active_mass_mg / 1000, rest_points=4
    )
    m = _upload(staff, cell, "cycling", exports.write_mpt_galvanostatic(tmp_path / "c.mpt", frame))
    _open(page, m.code)
    assert page.input_value("#id_cycles") == "1,10,60"
    page.fill("#id_cycles", "2, 30 ,59")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/?cycles=2%2C+30+%2C59")
    _open(page, m.code, "?cycles=2%2C+30+%2C59")
    names = page.evaluate(
        "() => document.getElementById('plot-vq').data.filter(t => t.showlegend).map(t => t.name)"
    )
    assert names == ["cycle 2", "cycle 30", "cycle 59"]
    # A typing slip: the plots stay, with the default cycles and the reason, the text kept.
    page.fill("#id_cycles", "2,3O")
    page.get_by_role("button", name="Show").click()
    error = page.get_by_test_id("cycles-error")
    assert error.inner_text() == (
        "cycles: “3O” is not a cycle number: write cycle numbers separated by commas, "
        "e.g. 1,50,200. Showing the default cycles."
    )
    assert page.input_value("#id_cycles") == "2,3O"
    names = page.evaluate(
        "() => document.getElementById('plot-vq').data.filter(t => t.showlegend).map(t => t.name)"
    )
    assert names == ["cycle 1", "cycle 10", "cycle 60"]
