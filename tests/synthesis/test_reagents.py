"""Reagent lots: each slot takes only its kind of chemical, and what records use is taken from
the lot's quantity, shown as what is left, refused beyond it unless confirmed, and kept in the
lot's history."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from core.models import AuditEvent
from synthesis import chemistry
from synthesis.models import LotUse, ReagentLot, SpeMembrane
from synthesis.services import chemical_save, lagp_batch_save, reagent_record_save
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def spe_lots():
    return {
        "peo": factories.reagent_lot("PEO", "PEO", quantity=10.0),
        "lifsi": factories.reagent_lot("LiFSI", "LiN(SO2F)2", quantity=1.0),
        "pyr": factories.reagent_lot("Pyr14FSI", "Pyr14FSI", quantity=5.0),
    }


def _membrane(lots, *, confirm=False, instance=None, **masses):
    fields = {
        "peo_lot": lots["peo"],
        "lifsi_lot": lots["lifsi"],
        "pyr14fsi_lot": lots["pyr"],
        "peo_mass_g": 0.4405,
        "lifsi_mass_g": 0.1871,
        "pyr14fsi_mass_g": 1.2896,
        **masses,
    }
    return reagent_record_save(
        SpeMembrane, instance=instance, fields=fields, confirm_overdraw=confirm
    )


def _left(lot) -> float:
    return ReagentLot.objects.get(pk=lot.pk).quantity_left


def test_a_batch_takes_its_weighed_precursor_masses_from_their_lots():
    batch = factories.lagp_batch()
    for use in batch.precursors.select_related("reagent_lot"):
        lot = use.reagent_lot
        assert _left(lot) == pytest.approx(1000.0 - use.weighed_mass_g)
    li = batch.precursors.get(role="li").reagent_lot
    assert _left(li) == pytest.approx(1000.0 - 1.45916, abs=1e-4)  # 10 g LAGP, 10 % Li excess


def test_membrane_masses_are_taken_and_a_correction_replaces_the_use(spe_lots):
    membrane = _membrane(spe_lots)
    assert _left(spe_lots["lifsi"]) == pytest.approx(1.0 - 0.1871)
    _membrane(spe_lots, instance=membrane, lifsi_mass_g=0.2)  # re-weighed: not counted twice
    assert _left(spe_lots["lifsi"]) == pytest.approx(0.8)
    assert LotUse.objects.filter(item=membrane).count() == 3


def test_a_use_beyond_what_is_left_is_refused_naming_the_slot_and_the_lot(spe_lots):
    _membrane(spe_lots)
    lifsi = spe_lots["lifsi"]
    with pytest.raises(ValidationError) as refused:
        _membrane(spe_lots, lifsi_mass_g=0.9)
    assert refused.value.message_dict == {
        "lifsi_lot": [
            f"LiFSI lot: {lifsi.code} has 0.8129 g left and this record uses 0.9 g; "
            "confirm to record it anyway."
        ]
    }
    assert SpeMembrane.objects.count() == 1  # nothing of the refused membrane was written
    assert _left(lifsi) == pytest.approx(0.8129)


def test_a_confirmed_overdraw_is_recorded_with_a_warning(spe_lots, staff_client):
    _membrane(spe_lots)
    second = _membrane(spe_lots, confirm=True, lifsi_mass_g=0.9)
    lifsi = spe_lots["lifsi"]
    assert _left(lifsi) == pytest.approx(1.0 - 0.1871 - 0.9)
    assert LotUse.objects.get(item=second, lot=lifsi).overdrawn
    page = staff_client.get(f"/items/{lifsi.code}/").content.decode()
    assert "recorded beyond what was left" in page and "overdrawn" in page
    assert (
        "more than the lot had left" in staff_client.get(f"/items/{second.code}/").content.decode()
    )


def test_every_use_shows_in_the_lots_history(spe_lots):
    membrane = _membrane(spe_lots)
    _membrane(spe_lots, instance=membrane, peo_mass_g=0.5)
    events = AuditEvent.objects.filter(item=spe_lots["peo"], model="synthesis.lotuse")
    assert [e.action for e in events.order_by("at", "id")] == ["create", "update"]
    assert events.get(action="update").changes()["amount"] == (0.4405, 0.5)


def test_the_quantity_of_a_used_lot_cannot_drop_below_what_was_used(spe_lots):
    from core.services import record_save

    _membrane(spe_lots)
    with pytest.raises(ValidationError) as refused:
        record_save(ReagentLot, instance=spe_lots["pyr"], fields={"quantity": 1.0})
    assert "used 1.29 g" in refused.value.message_dict["quantity"][0]
    with pytest.raises(ValidationError) as refused:
        record_save(ReagentLot, instance=spe_lots["pyr"], fields={"quantity_unit": "mL"})
    assert "unit can no longer change" in refused.value.message_dict["quantity_unit"][0]


def test_a_mass_cannot_be_taken_from_a_lot_counted_in_millilitres(spe_lots):
    liquid = factories.reagent_lot("Pyr14FSI", "Pyr14FSI", quantity=50, quantity_unit="mL")
    with pytest.raises(ValidationError) as refused:
        _membrane({**spe_lots, "pyr": liquid})
    assert refused.value.message_dict["pyr14fsi_lot"] == [
        f"Pyr14FSI lot: {liquid.code}: g cannot be taken from a lot counted in mL."
    ]


def test_milligram_lots_are_drawn_in_their_own_unit():
    lots = {
        role: factories.reagent_lot(f"precursor {role}", role, quantity=20000, quantity_unit="mg")
        for role in ("li", "al", "ge", "p")
    }
    planned = chemistry.lagp_precursors(10, 0.5, 10)
    lagp_batch_save(
        fields={"target_mass_g": 10},
        precursors=[
            {"role": p.role, "reagent_lot": lots[p.role], "planned_mass_g": p.mass_g}
            for p in planned
        ],
    )
    assert _left(lots["ge"]) == pytest.approx(20000 - 1000 * planned[2].mass_g)


def test_a_slot_refuses_a_chemical_of_another_category():
    cu = factories.reagent_lot("Copper foil", "Cu")
    lots = {"peo": cu, **{k: factories.reagent_lot(n, n) for k, n in (("lifsi", "LiFSI"),)}}
    lots["pyr"] = factories.reagent_lot("Pyr14FSI", "Pyr14FSI")
    with pytest.raises(ValidationError) as refused:
        _membrane(lots)
    assert refused.value.message_dict == {
        "peo_lot": [
            f"PEO lot: {cu.code} is Copper foil (current-collector foil); this slot takes polymer."
        ]
    }


def test_a_chemical_cannot_change_to_a_category_its_used_lots_do_not_fit(spe_lots):
    membrane = _membrane(spe_lots)
    peo = spe_lots["peo"].chemical
    with pytest.raises(ValidationError) as refused:
        chemical_save(instance=peo, fields={"category": "solvent"})
    assert refused.value.message_dict["category"][0].startswith(f"{membrane.code} uses a lot of it")
    chemical_save(instance=peo, fields={"formula": "(C2H4O)n"})  # other corrections are fine


def test_the_membrane_form_offers_only_lots_that_fit_each_slot(staff_client, spe_lots):
    cu = factories.reagent_lot("Copper foil", "Cu")
    form = staff_client.get("/synthesis/membranes/new/").content.decode()
    peo_select = form.split('name="peo_lot"')[1].split("</select>")[0]
    assert spe_lots["peo"].code in peo_select and "10 g left" in peo_select
    assert cu.code not in peo_select and spe_lots["lifsi"].code not in peo_select


def test_the_form_asks_to_confirm_an_overdraw_then_records_it(staff_client, spe_lots):
    _membrane(spe_lots)
    data = {
        "peo_lot": spe_lots["peo"].pk,
        "peo_mass_g": "0.44",
        "lifsi_lot": spe_lots["lifsi"].pk,
        "lifsi_mass_g": "0.9",
        "pyr14fsi_lot": spe_lots["pyr"].pk,
        "molar_ratio": "10:1:4",
        "benzophenone_wt_pct": "5",
        "uv_crosslinked": "on",
        "steps-TOTAL_FORMS": "0",
        "steps-INITIAL_FORMS": "0",
    }
    refused = staff_client.post("/synthesis/membranes/new/", data)
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "has 0.8129 g left and this record uses 0.9 g" in page
    assert 'type="checkbox" name="confirm_overdraw"' in page
    saved = staff_client.post("/synthesis/membranes/new/", {**data, "confirm_overdraw": "on"})
    assert saved.status_code == 302
    assert _left(spe_lots["lifsi"]) == pytest.approx(1.0 - 0.1871 - 0.9)


def test_the_api_shows_what_is_left_and_takes_confirm_overdraw(api, spe_lots):
    _membrane(spe_lots)
    lot = api.get(f"/api/reagent-lots/{spe_lots['lifsi'].code}/").json()
    assert (lot["quantity"], lot["quantity_used"], lot["quantity_left"]) == (1.0, 0.1871, 0.8129)
    assert lot["category"] == "lithium_salt"
    body = {
        "peo_lot": spe_lots["peo"].code,
        "lifsi_lot": spe_lots["lifsi"].code,
        "pyr14fsi_lot": spe_lots["pyr"].code,
        "lifsi_mass_g": 0.9,
    }
    refused = api.post("/api/spe-membranes/", body, format="json")
    assert refused.status_code == 400 and "confirm" in refused.json()["lifsi_lot"][0]
    made = api.post("/api/spe-membranes/", {**body, "confirm_overdraw": True}, format="json")
    assert made.status_code == 201, made.json()
    assert "confirm_overdraw" not in made.json()


def test_reagent_lot_list_shows_what_is_left(staff_client, spe_lots):
    _membrane(spe_lots)
    page = staff_client.get("/synthesis/reagents/").content.decode()
    assert "0.8129" in page


def test_an_admin_correction_of_a_mass_moves_the_lots_use(admin_client, spe_lots):
    membrane = _membrane(spe_lots)
    data = {
        "notes": "",
        "peo_lot": spe_lots["peo"].pk,
        "peo_mass_g": "0.5",
        "lifsi_lot": spe_lots["lifsi"].pk,
        "lifsi_mass_g": "0.1871",
        "pyr14fsi_lot": spe_lots["pyr"].pk,
        "pyr14fsi_mass_g": "1.2896",
        "molar_ratio": "10:1:4",
        "benzophenone_wt_pct": "5",
        "uv_crosslinked": "on",
    }
    for prefix in ("steps", "parent_edges"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    url = f"/admin/synthesis/spemembrane/{membrane.pk}/change/"
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert _left(spe_lots["peo"]) == pytest.approx(10.0 - 0.5)
    cu = factories.reagent_lot("Copper foil", "Cu")
    refused = admin_client.post(url, {**data, "peo_lot": cu.pk})
    assert refused.status_code == 200
    assert "this slot takes polymer" in refused.content.decode()
