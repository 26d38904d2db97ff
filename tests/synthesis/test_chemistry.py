"""Stoichiometry against the paper's numbers (DESIGN.md section 1)."""

import pytest

from synthesis import chemistry


def test_it_proposes_the_papers_precursor_masses_for_10_g():
    masses = {p.formula: round(p.mass_g, 3) for p in chemistry.lagp_precursors(10, 0.5, 10)}
    assert masses == {"Li2CO3": 1.459, "Al(NO3)3·9H2O": 4.490, "GeO2": 3.757, "NH4H2PO4": 8.260}


def test_lagp_molar_mass_follows_x():
    assert chemistry.lagp_molar_mass(0.5) == pytest.approx(417.7, abs=0.1)
    # Al (27) replaces Ge (72.6): less x, heavier formula unit.
    assert chemistry.lagp_molar_mass(0.3) > chemistry.lagp_molar_mass(0.5)


def test_li_excess_only_changes_lithium_carbonate():
    none = {p.role: p.mass_g for p in chemistry.lagp_precursors(10, 0.5, 0)}
    ten = {p.role: p.mass_g for p in chemistry.lagp_precursors(10, 0.5, 10)}
    assert ten["li"] == pytest.approx(none["li"] * 1.1)
    assert ten["ge"] == none["ge"]


@pytest.mark.parametrize("args", [(0, 0.5, 10), (-1, 0.5, 10), (10, 1.5, 10), (10, 0.5, -5)])
def test_calculator_rejects_impossible_inputs(args):
    with pytest.raises(ValueError):
        chemistry.lagp_precursors(*args)


def test_spe_ratio_10_1_4_is_23_10_67_wt_pct():
    peo, lifsi, il = chemistry.spe_weight_percentages(10, 1, 4)
    assert (round(peo, 1), round(lifsi, 1), round(il, 1)) == (23.0, 9.8, 67.3)


@pytest.mark.parametrize("text", ["10:1", "10:a:4", "", "-1:1:4", "0:0:0", "10:1:4:5", "nan:1:1"])
def test_parse_ratio_refuses_what_is_not_a_ratio(text):
    with pytest.raises(ValueError):
        chemistry.parse_ratio(text, 3)


def test_parse_ratio_accepts_spaces_slashes_and_decimal_commas():
    assert chemistry.parse_ratio(" 92 / 4 / 4 ", 3) == (92, 4, 4)
    assert chemistry.parse_ratio("0,8:0,2", 2) == (0.8, 0.2)


def test_a_12_mm_disk_at_2_7_mg_cm2_holds_3_054_mg_and_0_1c_is_0_0611_ma():
    mass = chemistry.active_mass_mg(2.7, 12)
    assert round(mass, 3) == 3.054
    assert round(chemistry.c_rate_current_ma(mass, 0.1), 4) == 0.0611


def test_relative_density_of_a_full_density_cylinder_is_one():
    # 13 mm x 0.6 mm cylinder: V = 0.07964 cm3; at 3.47 g/cm3 that is 276.3 mg.
    volume_cm3 = chemistry.disk_area_cm2(13) * 0.06
    mass_mg = volume_cm3 * 3.47 * 1000
    assert chemistry.relative_density(mass_mg, 13, 0.6) == pytest.approx(1.0)
    assert chemistry.relative_density(mass_mg * 0.9, 13, 0.6) == pytest.approx(0.9)
