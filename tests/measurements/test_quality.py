"""Plausibility warnings (measurements/analysis/quality.py) on real numbers.

The real Maccor export is cellpy/maccor_three.txt (jepegit/cellpy@c5d74b99b143, MIT, see
tests/data/instrument-files/INDEX.md): a ~0.9 Ah cell. Given the demo cell's active mass
(12 mm NCM811 disk at 2.7 mg/cm², 3.054 mg) its capacity reads ~3e5 mAh/g at ~1500C, which
the LIMS used to show without a word.
"""

from __future__ import annotations

import csv
import math

import pytest

from measurements import parsers
from measurements.analysis import cycling, quality
from tests.instrument_files import instrument_file

DEMO_DISK_MASS_MG = 2.7 * math.pi * 0.6**2  # 12 mm disk at 2.7 mg/cm² = 3.054 mg


def per_cycle_rows(relative: str, mass_mg: float) -> list[dict]:
    parsed = parsers.parse_file(instrument_file(relative), filename=relative)
    table = cycling.per_cycle(parsed.data, mass_mg / 1000)
    return table.fill_nan(None).to_dicts()


@pytest.fixture(scope="module")
def maccor_three_demo_mass():
    return per_cycle_rows("cellpy/maccor_three.txt", DEMO_DISK_MASS_MG)


def first_cycle_charge_mah_from_raw_rows() -> float:
    """By hand from the file: the largest mAmp-hr counter of the first cycle's charge rows."""
    path = instrument_file("cellpy/maccor_three.txt")
    with path.open(newline="", encoding="latin-1") as f:
        lines = [line for line in f if line.strip()]
    header = lines.index(next(x for x in lines if x.startswith("Rec#")))
    rows = csv.DictReader(lines[header:], delimiter="\t")
    first_cycle = None
    best = 0.0
    for row in rows:
        cycle = int(row["Cyc#"])
        first_cycle = cycle if first_cycle is None else first_cycle
        if cycle != first_cycle:
            break
        if row["State"] == "C":
            best = max(best, float(row["mAmp-hr"]))
    return best


# --- conductivity --------------------------------------------------------------------------------


def test_lagp_conductivity_passes():
    assert quality.conductivity_warnings(3.25e-4) == []  # the paper's LAGP pellet
    assert quality.conductivity_warnings(None) == []  # not computed: needs input, no warning


def test_conductivity_above_0_1_s_cm_is_flagged_with_the_value_and_the_limit():
    # Circuit1_EIS_1.z (impedance.py, 75.8 ohm) through 600 µm with an area typed as 0.005 cm²
    sigma = 0.06 / (75.77 * 0.005)
    [w] = quality.conductivity_warnings(sigma)
    assert w["code"] == "conductivity_implausible"
    assert "0.158 S/cm" in w["message"] and "above 0.1 S/cm" in w["message"]
    assert w["parameter"] == "conductivity_s_cm"


# --- materials ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names, key",
    [
        (("NCM811",), "NCM811"),
        (("", "LiNi0.8Co0.1Mn0.1O2"), "NCM811"),
        (("NMC 811",), "NCM811"),
        (("NCM811 (Targray)",), "NCM811"),
        (("LiFePO4",), "LFP"),
        (("Li4Ti5O12",), "LTO"),
        (("Graphite SFG6",), "graphite"),
        (("Zincate",), None),  # no "NCA" found inside a word
        ((None, "", "Sulfur"), None),
    ],
)
def test_material_key_reads_names_formulas_and_labels(names, key):
    assert quality.material_key(*names) == key


def test_capacity_limit_by_material_or_generic_and_says_which():
    assert quality.capacity_limit("NCM811") == (275.0, "NCM811's theoretical capacity of 275 mAh/g")
    assert quality.capacity_limit("LFP")[0] == 170.0
    assert quality.capacity_limit("graphite")[0] == 372.0
    limit, words = quality.capacity_limit(None)
    assert limit == 400.0 and "generic limit of 400 mAh/g" in words and "not recorded" in words


# --- cycling on the real Maccor file --------------------------------------------------------------


def test_real_maccor_file_with_the_demo_mass_says_why_its_numbers_are_wrong(
    maccor_three_demo_mass,
):
    rows = maccor_three_demo_mass
    first_charge_mah = first_cycle_charge_mah_from_raw_rows()
    assert first_charge_mah == pytest.approx(906.112)  # the file's counter, read by hand
    by_hand = first_charge_mah / (DEMO_DISK_MASS_MG / 1000)  # 2.967e5 mAh/g
    assert rows[0]["charge_mAh_g"] == pytest.approx(by_hand, rel=1e-6)

    warnings = {w["code"]: w for w in quality.cycling_warnings(rows, "NCM811")}
    assert set(warnings) == {
        "first_cycle_capacity_unphysical",
        "capacity_above_theoretical",
        "c_rate_implausible",
    }
    first = warnings["first_cycle_capacity_unphysical"]["message"]
    assert "2.97e+05 mAh/g (cycle 0)" in first
    assert "NCM811's theoretical capacity of 275 mAh/g" in first
    assert "active mass (mg)" in first
    every = warnings["capacity_above_theoretical"]["message"]
    assert "in 15 of 15 cycles" in every
    rate = warnings["c_rate_implausible"]["message"]
    assert "1500C" in rate and "above 20C" in rate and "in 15 of 15 cycles" in rate


def test_real_maccor_file_with_a_cell_sized_mass_has_no_warning():
    # A 0.9 Ah cell holds grams of cathode: with 5 g of NCM811 it reads ~181 mAh/g at ~1C.
    rows = per_cycle_rows("cellpy/maccor_three.txt", 5000.0)
    assert rows[0]["charge_mAh_g"] == pytest.approx(906.112 / 5, rel=1e-3)
    assert quality.cycling_warnings(rows, "NCM811") == []


def test_unknown_material_uses_the_generic_bound_and_says_so(maccor_three_demo_mass):
    [w] = quality.capacity_warnings(maccor_three_demo_mass, None)
    assert "generic limit of 400 mAh/g" in w["message"]


def test_a_file_that_starts_mid_cycle_has_an_incomplete_first_cycle():
    # beep's xTESLADIAG (Apache-2.0) starts with a discharge: cycle 0 has no charge.
    rows = per_cycle_rows("beep/xTESLADIAG_000019_CH70.070", 5000.0)
    assert rows[0]["charge_mAh"] == 0.0 and rows[0]["discharge_mAh"] > 0
    [w] = [w for w in quality.cycling_warnings(rows, None) if w["code"] == "first_cycle_incomplete"]
    assert "Cycle 0 has no charge capacity" in w["message"]
    assert w["parameter"] == "reference_cycle"


def paper_rows(ce_values):
    """NCM811 full cell of the paper: 217 mAh/g charge at 0.1C, CE as given."""
    return [
        {
            "cycle": i,
            "charge_mAh": 0.66,
            "discharge_mAh": 0.66 * ce,
            "charge_mAh_g": 217.0,
            "discharge_mAh_g": 217.0 * ce,
            "coulombic_efficiency": ce,
            "c_rate": 0.1,
        }
        for i, ce in enumerate(ce_values, start=1)
    ]


def test_paper_cycles_pass():
    assert quality.cycling_warnings(paper_rows([0.917, 0.995, 0.998, 1.001]), "NCM811") == []


def test_coulombic_efficiency_above_102_percent_names_the_cycles():
    [w] = quality.coulombic_efficiency_warnings(paper_rows([0.917, 0.998, 1.035, 1.051]))
    assert w["code"] == "coulombic_efficiency_above_limit"
    assert "above 102 % in 2 of 4 cycles (highest 105.1 % at cycle 4)" in w["message"]


def test_c_rate_of_exactly_20c_passes_and_above_is_flagged():
    rows = paper_rows([0.99, 0.99])
    rows[0]["c_rate"], rows[1]["c_rate"] = 20.0, 25.0
    [w] = quality.c_rate_warnings(rows)
    assert "25C (cycle 2)" in w["message"] and "in 1 of 2 cycles" in w["message"]


# --- stripping ------------------------------------------------------------------------------------


def test_overpotential_limit_follows_the_instrument():
    lagp = [0.012, 0.015, 0.6]  # healthy, then a failing cell at 0.6 V
    assert quality.overpotential_warnings(lagp, "biologic_vmp") == []
    assert quality.overpotential_warnings([6.0], "biologic_vmp") == []  # VMP: ±10 V
    [w] = quality.overpotential_warnings([0.012, 6.0], "maccor_4300")
    assert (
        "6 V in 1 of 2 half cycles" in w["message"]
        and "Maccor 4300's range of ±5 V" in w["message"]
    )
    # 12 mV read as 12 V (a file in mV taken for V)
    [w] = quality.overpotential_warnings([12.0, 15.0], "biologic_vmp")
    assert "BioLogic VMP's range of ±10 V" in w["message"]
    [w] = quality.overpotential_warnings([6.0], "")
    assert "beyond ±5 V" in w["message"]


def test_a_last_cycle_without_charge_or_discharge_is_flagged():
    # cellpy's Arbin .res ends with a discharge-only cycle 18 (78 of ~480 mAh/g): retention
    # read there (13.6 %) is not a cycle's.
    rows = [
        {"cycle": 17, "charge_mAh": 1.70, "discharge_mAh": 1.57},
        {"cycle": 18, "charge_mAh": 0.0, "discharge_mAh": 0.2393},
    ]
    [w] = quality.last_cycle_warnings(rows)
    assert w["code"] == "last_cycle_incomplete"
    assert w["message"].startswith("The last cycle (18) has no charge capacity")
    assert quality.last_cycle_warnings(rows[:1]) == []
    assert quality.last_cycle_warnings([{**rows[1], "charge_mAh": 0.25}, rows[0]]) == []
