"""Building cells through the web form."""

import pytest

from cells.models import Cell
from core.models import LineageEdge
from tests import factories
from tests.synthesis.test_views import formset

CELL_FIELDS = {
    "format": "coin",
    "active_area_cm2": "1.13",
    "assembled_on": "2024-03-01",
    "operator": "",
    "dew_point_c": "-60",
    "test_temperature_c": "40",
    "notes": "",
}


@pytest.fixture
def parts(db):
    return {
        "li": factories.reagent_lot("Lithium foil", "Li", "Li"),
        "ile": factories.reagent_lot("ILE stand-in", "ILE", "ILE"),
        "pellet": factories.pellets(count=1)[0],
        "disk": factories.cathode_disks(count=1)[0],
    }


def stack(*layers):
    return formset(
        "layers",
        [
            {
                "side": side,
                "item": item.code if hasattr(item, "code") else item,
                "amount_ul": amount,
                "label": "",
            }
            for side, item, amount in layers
        ],
    )


def test_a_full_cell_shows_its_notation_active_mass_and_currents(staff_client, parts):
    data = {
        **CELL_FIELDS,
        **stack(
            ("negative", parts["li"], ""),
            ("electrolyte", parts["pellet"], ""),
            ("positive", parts["disk"], ""),
        ),
    }
    response = staff_client.post("/cells/new/", data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    cell = Cell.objects.get()
    assert cell.notation == "Li|LAGP|NCM811"
    assert round(cell.active_mass_mg, 3) == 3.054
    body = staff_client.get(response.url).content.decode()
    # 0.1C, 0.2C and 1C of 3.054 mg NCM811 at 200 mA/g, to 4 significant digits.
    assert "0.06107" in body and "0.1221" in body and "0.6107" in body
    assert set(LineageEdge.objects.filter(child=cell).values_list("parent__code", flat=True)) == {
        parts["li"].code,
        parts["pellet"].code,
        parts["disk"].code,
    }


def test_a_stack_without_electrodes_is_refused_and_nothing_is_saved(staff_client, parts):
    data = {**CELL_FIELDS, **stack(("electrolyte", parts["pellet"], ""))}
    response = staff_client.post("/cells/new/", data)
    assert response.status_code == 400
    assert "The stack has no negative electrode." in response.content.decode()
    assert not Cell.objects.exists()


def test_an_unknown_code_in_the_stack_is_named(staff_client, parts):
    data = {
        **CELL_FIELDS,
        **stack(
            ("negative", parts["li"], ""),
            ("electrolyte", "PEL-9999", ""),
            ("positive", parts["li"], ""),
        ),
    }
    response = staff_client.post("/cells/new/", data)
    assert response.status_code == 400
    assert "No item with code &#x27;PEL-9999&#x27;" in response.content.decode()


def test_a_powder_batch_cannot_be_a_layer(staff_client, parts):
    batch = parts["pellet"].pellet_set.batch
    data = {
        **CELL_FIELDS,
        **stack(
            ("negative", parts["li"], ""), ("electrolyte", batch, ""), ("positive", parts["li"], "")
        ),
    }
    response = staff_client.post("/cells/new/", data)
    assert response.status_code == 400
    assert "is a powder batch: press pellets from it" in response.content.decode()


def test_negative_ile_drop_is_refused(staff_client, parts):
    data = {
        **CELL_FIELDS,
        **stack(
            ("negative", parts["li"], ""),
            ("electrolyte", parts["ile"], "-5"),
            ("positive", parts["li"], ""),
        ),
    }
    assert staff_client.post("/cells/new/", data).status_code == 400
    assert not Cell.objects.exists()


def test_cells_filter_by_notation_and_sintering_temperature(staff_client):
    batch = factories.lagp_batch()
    at_900 = factories.full_cell(pellet=factories.pellets(batch, 1, 900)[0])
    at_950 = factories.full_cell(pellet=factories.pellets(batch, 1, 950)[0])
    body = staff_client.get("/cells/", {"sintering_temperature_c": "900"}).content.decode()
    assert at_900.code in body and at_950.code not in body
    body = staff_client.get("/cells/", {"notation": "lagp|ncm"}).content.decode()
    assert at_900.code in body and at_950.code in body


def test_rebuilding_a_cell_keeps_lineage_equal_to_the_stack(staff_client, parts):
    cell = factories.full_cell(li=parts["li"], pellet=parts["pellet"], disk=parts["disk"])
    other_pellet = factories.pellets(count=1)[0]
    data = {
        **CELL_FIELDS,
        **stack(
            ("negative", parts["li"], ""),
            ("electrolyte", other_pellet, ""),
            ("positive", parts["disk"], ""),
        ),
    }
    response = staff_client.post(f"/items/{cell.code}/edit/", data)
    assert response.status_code == 302, (
        response.context["form"].errors,
        [f.errors for f in response.context["formsets"]["layers"]],
    )
    parents = set(LineageEdge.objects.filter(child=cell).values_list("parent__code", flat=True))
    assert parents == {parts["li"].code, other_pellet.code, parts["disk"].code}


def test_changing_a_disk_loading_recomputes_the_cells_built_on_it(staff_client, parts):
    cell = factories.full_cell(disk=parts["disk"])
    data = {"diameter_mm": "12", "active_loading_mg_cm2": "12", "notes": ""}
    with staff_client_commits():
        assert staff_client.post(f"/items/{parts['disk'].code}/edit/", data).status_code == 302
    cell.refresh_from_db()
    assert round(cell.active_mass_mg, 2) == round(12 * 1.130973, 2)


def staff_client_commits():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def test_a_row_left_without_an_item_is_not_a_layer_and_the_stack_says_what_is_missing(
    staff_client, parts
):
    # The three rows a new cell starts with, the positive one left empty.
    data = {
        **CELL_FIELDS,
        **stack(
            ("negative", parts["li"], ""),
            ("electrolyte", parts["pellet"], ""),
            ("positive", "", ""),
        ),
    }
    response = staff_client.post("/cells/new/", data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "The stack has no positive electrode." in body
    assert "This field is required." not in body
    assert not Cell.objects.exists()


def test_an_amount_without_an_item_is_named(staff_client, parts):
    data = {
        **CELL_FIELDS,
        **stack(
            ("negative", parts["li"], ""),
            ("electrolyte", "", "5"),
            ("electrolyte", parts["pellet"], ""),
            ("positive", parts["li"], ""),
        ),
    }
    response = staff_client.post("/cells/new/", data)
    assert response.status_code == 400
    assert "Which item is this layer?" in response.content.decode()
    assert not Cell.objects.exists()
