"""The precursor grid of the batch form: one row per precursor named in the row, more lots per
precursor, planned masses that follow the calculator (also without JS)."""

import re

import pytest

from core.models import LineageEdge
from synthesis import chemistry
from synthesis.forms import follow_calculator
from synthesis.models import LagpBatch
from synthesis.services import lagp_batch_save
from tests import factories
from tests.synthesis.test_views import batch_post, formset


@pytest.fixture
def lots(db):
    return {
        role: factories.reagent_lot(f"precursor {role}", role) for role in ("li", "al", "ge", "p")
    }


def precursor_rows(lots, rows):
    return formset(
        "precursors",
        [
            {
                "role": role,
                "reagent_lot": lots[role].pk if lot is None else lot.pk,
                "planned_mass_g": planned,
                "proposed_mass_g": proposed,
                "weighed_mass_g": "",
            }
            for role, lot, planned, proposed in rows
        ],
    )


PAPER = [  # 10 g, x = 0.5, 10 % Li excess
    ("li", None, "1.4592", "1.4592"),
    ("al", None, "4.4898", "4.4898"),
    ("ge", None, "3.7568", "3.7568"),
    ("p", None, "8.2602", "8.2602"),
]


def test_each_recipe_row_names_its_precursor_and_added_rows_choose_one(staff_client):
    body = staff_client.get("/synthesis/batches/new/").content.decode()
    for label in ("Li source (Li2CO3)", "Al source (Al(NO3)3·9H2O)", "Ge source (GeO2)"):
        assert f'<span class="fixed-choice">{label}</span>' in body
    assert '<input type="hidden" name="precursors-0-role" value="li"' in body
    empty_row = body.split("<template data-empty-row>")[1].split("</template>")[0]
    assert 'select name="precursors-__prefix__-role"' in empty_row
    assert "use as planned" not in body


def test_one_precursor_weighed_from_two_lots(staff_client, lots):
    second_li = factories.reagent_lot(
        "Lithium carbonate, 2nd lot", "Li2CO3", category="lithium_source"
    )
    data = batch_post(lots)
    data.update(
        precursor_rows(
            lots,
            [
                ("li", None, "1.0", ""),
                ("al", None, "4.4898", "4.4898"),
                ("ge", None, "3.7568", "3.7568"),
                ("p", None, "8.2602", "8.2602"),
                ("li", second_li, "0.4592", ""),
            ],
        )
    )
    response = staff_client.post("/synthesis/batches/new/", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    batch = LagpBatch.objects.get()
    li_uses = batch.precursors.filter(role="li").order_by("planned_mass_g")
    assert [(u.reagent_lot, u.planned_mass_g) for u in li_uses] == [
        (second_li, 0.4592),
        (lots["li"], 1.0),
    ]
    assert set(LineageEdge.objects.filter(child=batch).values_list("parent__code", flat=True)) == {
        lot.code for lot in lots.values()
    } | {second_li.code}


def test_the_same_lot_twice_sums_into_one_lineage_edge(lots):
    batch = lagp_batch_save(
        fields={"target_mass_g": 10},
        precursors=[
            {"role": "li", "reagent_lot": lots["li"], "planned_mass_g": 1.0, "weighed_mass_g": 1.0},
            {
                "role": "li",
                "reagent_lot": lots["li"],
                "planned_mass_g": 0.46,
                "weighed_mass_g": 0.5,
            },
        ],
    )
    edge = LineageEdge.objects.get(child=batch, parent=lots["li"])
    assert edge.amount == pytest.approx(1.5)


def test_an_added_row_without_a_precursor_is_named(staff_client, lots):
    data = batch_post(lots)
    data.update(precursor_rows(lots, [*PAPER, ("", lots["li"], "0.2", "")]))
    response = staff_client.post("/synthesis/batches/new/", data)
    assert response.status_code == 400
    assert "Which precursor is this lot for?" in response.content.decode()
    assert not LagpBatch.objects.exists()


def test_planned_masses_follow_a_new_target_mass_on_save_without_js(staff_client, lots):
    data = batch_post(lots, target_mass_g="20")
    data.update(precursor_rows(lots, PAPER))
    assert staff_client.post("/synthesis/batches/new/", data).status_code == 302
    batch = LagpBatch.objects.get()
    planned = {u.role: u.planned_mass_g for u in batch.precursors.all()}
    assert planned == {"li": 2.9183, "al": 8.9796, "ge": 7.5136, "p": 16.5204}


def test_a_planned_mass_typed_by_hand_is_kept(staff_client, lots):
    data = batch_post(lots, target_mass_g="20")
    data.update(precursor_rows(lots, [("li", None, "3.0", "1.4592"), *PAPER[1:]]))
    assert staff_client.post("/synthesis/batches/new/", data).status_code == 302
    batch = LagpBatch.objects.get()
    assert batch.precursors.get(role="li").planned_mass_g == 3.0
    assert batch.precursors.get(role="al").planned_mass_g == 8.9796


@pytest.mark.parametrize("button", [{"recalculate": "1"}, {"add_row": "precursors"}])
def test_recalculate_or_add_a_row_fills_planned_masses_without_js(staff_client, lots, button):
    data = batch_post(lots, target_mass_g="20", x_al="0.5", li_excess_pct="10", **button)
    data.update(precursor_rows(lots, [*PAPER[:3], ("p", None, "", "")]))
    response = staff_client.post("/synthesis/batches/new/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="precursors-0-planned_mass_g" value="2.9183"' in body
    assert 'name="precursors-3-planned_mass_g" value="16.5204"' in body  # was empty
    assert '<td class="mass">2.918</td>' in body  # the calculator shown without JS
    assert not LagpBatch.objects.exists()


def test_follow_calculator_leaves_invalid_inputs_alone():
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    data.update({"target_mass_g": "10", "x_al": "3", "li_excess_pct": "10"})
    data.update(formset("precursors", [{"role": "li", "planned_mass_g": ""}]))
    assert follow_calculator(data)["precursors-0-planned_mass_g"] == ""


def test_editing_a_batch_shows_its_own_planned_masses(staff_client, lots):
    batch = factories.lagp_batch(target_mass_g=10)
    body = staff_client.get(f"/items/{batch.code}/edit/").content.decode()
    li = chemistry.lagp_precursors(10, 0.5, 10)[0].mass_g
    assert f'name="precursors-0-planned_mass_g" value="{li}"' in body
    assert 'name="precursors-0-proposed_mass_g" value="1.4592"' in body


def test_a_copy_keeps_the_second_lot_in_a_row_of_its_own_and_weighs_anew(staff_client, lots):
    second_li = factories.reagent_lot(
        "Lithium carbonate, 2nd lot", "Li2CO3", category="lithium_source"
    )
    use = {"planned_mass_g": 1.0, "weighed_mass_g": 1.0}
    batch = lagp_batch_save(
        fields={"target_mass_g": 10},
        precursors=[
            {"role": "p", "reagent_lot": lots["p"], **use},
            {"role": "li", "reagent_lot": lots["li"], **use},
            {"role": "li", "reagent_lot": second_li, **use},
        ],
    )
    body = staff_client.get(f"/synthesis/batches/new/?copy={batch.code}").content.decode()
    assert 'name="precursors-TOTAL_FORMS" value="5"' in body
    fixed = re.findall(r'<input type="hidden" name="precursors-(\d)-role" value="(\w+)"', body)
    assert fixed == [("0", "li"), ("1", "al"), ("2", "ge"), ("3", "p")]
    added = body.split('<select name="precursors-4-role"')[1].split("</select>")[0]
    assert '<option value="li" selected>' in added  # the second lot chooses its precursor
    lot = body.split('<select name="precursors-4-reagent_lot"')[1].split("</select>")[0]
    assert f'<option value="{second_li.pk}" selected>' in lot
    weighed = re.search(r'<input [^>]*name="precursors-0-weighed_mass_g"[^>]*>', body).group()
    assert "value=" not in weighed  # a copy is weighed anew
