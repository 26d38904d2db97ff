"""Pure rules of a cell stack."""

from cells.stack import LayerSpec, active_mass_mg, c_rate_currents, notation, stack_errors

LOT_CATEGORIES = {"Li": "lithium_metal", "Cu": "current_collector", "Pt": "electrode_metal"}


def L(side, kind, label, mass=None, category=None):  # noqa: N802
    category = category or (LOT_CATEGORIES.get(label, "") if kind == "reagent_lot" else "")
    return LayerSpec(
        side=side, kind=kind, label=label, code=label, active_mass_mg=mass, category=category
    )


FULL = [
    L("negative", "reagent_lot", "Li"),
    L("electrolyte", "ile_batch", "ILE"),
    L("electrolyte", "membrane_piece", "SPE"),
    L("electrolyte", "pellet", "LAGP"),
    L("electrolyte", "ile_batch", "ILE"),
    L("positive", "electrode_disk", "NCM811", 3.054),
]


def test_notation_of_the_papers_full_cell():
    assert notation(FULL) == "Li|ILE/SPE/LAGP/ILE|NCM811"
    assert stack_errors(FULL) == []


def test_notation_of_a_blocking_electrode_cell_mirrors_the_electrodes():
    layers = [
        L("negative", "reagent_lot", "Cu"),
        L("negative", "reagent_lot", "Pt"),
        L("electrolyte", "pellet", "LAGP"),
        L("positive", "reagent_lot", "Pt"),
        L("positive", "reagent_lot", "Cu"),
    ]
    assert notation(layers) == "Cu/Pt|LAGP|Pt/Cu"


def test_a_stack_without_electrodes_is_refused_with_a_reason():
    errors = stack_errors([L("electrolyte", "pellet", "LAGP")])
    assert "The stack has no negative electrode." in errors
    assert "The stack has no positive electrode." in errors


def test_layers_out_of_order_or_of_the_wrong_kind_are_refused():
    swapped = [FULL[-1], *FULL[1:-1], FULL[0]]
    assert any("must run from the negative" in e for e in stack_errors(swapped))
    pellet_as_electrode = [L("negative", "pellet", "LAGP"), *FULL[1:]]
    assert any("cannot be used as an electrode" in e for e in stack_errors(pellet_as_electrode))


def test_currents_from_the_cathode_mass_with_1c_200_ma_per_g():
    mass = active_mass_mg(FULL)
    currents = c_rate_currents(mass)
    assert round(currents[0.1], 4) == 0.0611
    assert round(currents[1.0], 3) == 0.611
    assert c_rate_currents(active_mass_mg(FULL[:-1])) == {}


def test_a_whole_membrane_sheet_powder_or_coating_is_refused_with_what_to_use_instead():
    for kind, hint in (
        ("spe_membrane", "cut pieces from it"),
        ("lagp_batch", "press pellets from it"),
        ("cathode_coating", "punch disks from it"),
    ):
        layers = [*FULL[:2], L("electrolyte", kind, "X"), *FULL[3:]]
        assert any(hint in e for e in stack_errors(layers)), kind


def test_a_lot_must_be_of_a_chemical_that_can_be_that_layer():
    ncm_powder_as_anode = [L("negative", "reagent_lot", "NCM811", category="active_material")]
    errors = stack_errors([*ncm_powder_as_anode, *FULL[1:]])
    assert errors == [
        "Layer 1 (NCM811) cannot be used as an electrode: a lot there must be lithium metal, "
        "current-collector foil or a blocking-electrode metal."
    ]
    salt_as_electrolyte = L("electrolyte", "reagent_lot", "LiFSI", category="lithium_salt")
    assert stack_errors([FULL[0], salt_as_electrolyte, FULL[-1]]) == [
        "Layer 2 (LiFSI) cannot be used as an electrolyte: a lot there must be a bought "
        "electrolyte or separator, or an ionic liquid."
    ]
