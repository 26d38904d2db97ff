"""The comparison page's data: voltage profiles cut from the parsed data (checked against the
per-cycle table of real instrument files), stored fits evaluated, and the demo study's numbers
on the page."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.selectors import items_by_codes
from measurements import parsers, selectors
from measurements.analysis import cycling, temperature
from measurements.models import CycleRow
from tests.instrument_files import instrument_file

# --- pure functions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cycle",
    [
        ("cellpy/maccor_three.txt", 1),  # Maccor counter (Amp-hr, CC then CV in one half)
        ("cellpy/maccor_001.txt", 2),  # counter stuck at 0: cycles inferred from the steps
    ],
)
def test_a_voltage_profile_runs_from_zero_to_the_per_cycle_tables_capacity(name, cycle):
    frame = parsers.parse_file(instrument_file(name)).data
    mass_g = 0.003
    row = (
        cycling.per_cycle(frame, mass_g).filter(cycling.pl.col("cycle") == cycle).row(0, named=True)
    )
    profile = cycling.cycle_profile(frame, cycle, mass_g)
    for direction, column in ((1, "charge_mAh_g"), (-1, "discharge_mAh_g")):
        half = profile.filter(cycling.pl.col("direction") == direction)["capacity_mAh_g"]
        assert half[0] == 0.0
        assert half.max() == pytest.approx(row[column], rel=1e-9)
        assert (half.diff().drop_nulls() >= -1e-9).all()  # charge passed only grows


def test_a_cycle_the_data_lack_gives_an_empty_profile():
    frame = parsers.parse_file(instrument_file("cellpy/maccor_three.txt")).data
    assert cycling.cycle_profile(frame, 999, 0.003).height == 0


def test_stored_fits_give_back_the_conductivities_they_were_fitted_to():
    # Exact Arrhenius data, Ea 0.36 eV, A 500 S/cm: σ(25 °C) = 500 exp(-0.36 / (k 298.15)).
    t_c = np.array([25.0, 40.0, 60.0, 80.0])
    sigma = 500.0 * np.exp(-0.36 / (temperature.K_B_EV * (t_c + 273.15)))
    assert sigma[0] == pytest.approx(4.1088e-4, rel=1e-4)
    for form in ("sigma", "sigmaT"):
        fit = temperature.fit_arrhenius(t_c, sigma, form=form).to_dict()
        back = temperature.arrhenius_sigma(fit, t_c)
        # The σT form is another model: it does not pass through pure-σ data exactly.
        assert back == pytest.approx(sigma, rel=1e-9 if form == "sigma" else 2e-2)
    vft_sigma = 10.0 / np.sqrt(t_c + 273.15) * np.exp(-1000.0 / (t_c + 273.15 - 150.0))
    vft = {"prefactor_s_k05_cm": 10.0, "b_k": 1000.0, "t0_k": 150.0}
    assert temperature.vft_sigma(vft, t_c) == pytest.approx(vft_sigma, rel=1e-12)


# --- the demo study on the comparison page ------------------------------------------------------


def _items(*codes):
    items, unknown = items_by_codes(list(codes))
    assert unknown == []
    return items


def test_the_demo_cells_capacity_retention_and_voltage_profiles(demo_measured):
    full, bare = demo_measured["full_spe"], demo_measured["full_bare"]
    data = selectors.comparison(_items(full.code, bare.code), cycle=2)
    by_name = {t["name"]: t for t in data["capacity"]}
    good, poor = by_name[full.code], by_name[bare.code]
    assert (len(good["cycle"]), len(poor["cycle"])) == (400, 60)
    # The demo's generated cells: 199.0 mAh/g at cycle 1, 82.7 % after 400 cycles, 35.0 % after 60.
    assert good["discharge_mAh_g"][0] == pytest.approx(199.0, abs=1e-3)
    assert good["retention_pct"][0] == pytest.approx(100.0)
    assert good["retention_pct"][-1] == pytest.approx(82.70, abs=0.01)
    assert poor["retention_pct"][-1] == pytest.approx(35.00, abs=0.01)
    # Each profile ends at its cell's cycle-2 capacities from the per-cycle table.
    assert [p["name"] for p in data["profiles"]] == [full.code, bare.code]
    for profile, cell in zip(data["profiles"], (full, bare), strict=True):
        row = CycleRow.objects.get(measurement__item=cell, cycle=2)
        gap = profile["capacity_mAh_g"].index(None)
        charge = [q for q in profile["capacity_mAh_g"][:gap]]
        discharge = [q for q in profile["capacity_mAh_g"][gap + 1 :]]
        assert max(charge) == pytest.approx(row.charge_mAh_g, rel=1e-9)
        assert max(discharge) == pytest.approx(row.discharge_mAh_g, rel=1e-9)
        assert len(profile["voltage_V"]) <= 2 * selectors.COMPARE_PROFILE_POINTS + 1
    assert data["nyquist"] == [] and data["arrhenius"] == []
    assert data["lacking"]["nyquist"] == [full.code, bare.code]


def test_a_cycle_beyond_a_cells_test_is_said_for_that_cell(demo_measured):
    full, bare = demo_measured["full_spe"], demo_measured["full_bare"]
    data = selectors.comparison(_items(full.code, bare.code), cycle=100)
    assert [p["name"] for p in data["profiles"]] == [full.code]
    assert data["profile_problems"] == [f"{bare.code}: no cycle 100 (cycles 1–60)"]


def test_the_demo_pellets_and_membrane_nyquist_and_arrhenius(demo_measured):
    best = demo_measured["pellets"][900][0]  # EIS at 25, 40, 60 and 80 °C
    other = demo_measured["pellets"][850][0]  # EIS at 25 °C only
    spe = demo_measured["spe"]  # EIS at 20-80 °C, 7 temperatures
    cell = demo_measured["full_spe"]
    data = selectors.comparison(_items(best.code, other.code, spe.code, cell.code), cycle=1)
    assert len(data["nyquist"]) == 4 + 1 + 7
    assert data["nyquist"][0]["name"].startswith(f"{best.code} MEAS-")
    assert data["nyquist"][0]["name"].endswith(" at 25 °C")
    assert data["nyquist"][4]["name"].startswith(f"{other.code} MEAS-")
    # The fit's ionic resistance frames the plot: 329.2 Ω is the paper's pellet at 25 °C.
    at_25 = data["nyquist"][0]  # the items' order, then by temperature
    assert at_25["r_ionic"] == pytest.approx(329.2, rel=0.02)
    series = {s["item"]: s for s in data["arrhenius"]}
    assert set(series) == {best.code, other.code, spe.code}
    pellet = series[best.code]
    assert pellet["x"] == pytest.approx([1000 / (t + 273.15) for t in (25, 40, 60, 80)])
    # 3.25e-4 S/cm at 25 °C (the paper's) -> log10 = -3.49
    assert pellet["log_sigma"][0] == pytest.approx(math.log10(3.25e-4), abs=0.01)
    (fit,) = pellet["fits"]
    assert fit["name"] == f"{best.code} Arrhenius, Ea = 0.361 eV"  # generated with 0.36 eV
    assert [f["name"].split(",")[0] for f in series[spe.code]["fits"]] == [
        f"{spe.code} Arrhenius",
        f"{spe.code} VFT",
    ]
    assert series[other.code]["fits"] == []  # one temperature: no fit
    assert data["lacking"]["arrhenius"] == [cell.code]
    assert data["nothing"] == []


def test_the_page_names_what_it_cannot_read(staff_client, demo_measured):
    full = demo_measured["full_spe"]
    page = staff_client.get(f"/compare/?items={full.code},CELL-9999&cycle=2")
    assert page.status_code == 200
    assert "No item with code CELL-9999." in page.content.decode()
    bad = staff_client.get(f"/compare/?items={full.code}&cycle=first")
    assert bad.status_code == 400
    assert "cycle: &#x27;first&#x27; is not a cycle number" in bad.content.decode()
    assert staff_client.get("/compare/").status_code == 200
    too_many = staff_client.get("/compare/?items=" + ",".join(["CELL-0001"] * 101))
    assert "At most 100 items" in too_many.content.decode()
    # checkboxes send the items one by one, in any case
    boxes = staff_client.get(f"/compare/?items={full.code.lower()}&items=PEL-0003")
    assert boxes.context["codes"] == f"{full.code},PEL-0003"


def test_a_cell_without_any_data_is_said_in_a_line(staff_client, demo_measured):
    cell = demo_measured["blocking"]
    page = staff_client.get(f"/compare/?items={cell.code}").content.decode()
    assert f"{cell.code}: no cycling, impedance or temperature-series data to plot." in page
    assert 'id="plot-' not in page
