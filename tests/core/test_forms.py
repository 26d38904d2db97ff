"""Row grids (formsets) on every record form: add a row without JS, refuse a broken grid with a
400 that writes nothing, and say errors in the words of the form."""

import pytest
from django.core.exceptions import ValidationError

from cells.models import Cell
from core.forms import apply_service_errors
from core.models import ProcessStep
from synthesis.forms import CalculatorForm, LagpBatchForm
from synthesis.models import LagpBatch, Pellet
from tests import factories
from tests.cells.test_views import CELL_FIELDS, stack
from tests.synthesis.test_views import batch_post, formset


@pytest.fixture
def lots(db):
    return {
        role: factories.reagent_lot(f"precursor {role}", role) for role in ("li", "al", "ge", "p")
    }


# -- bounds in plain words -------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("x_al", "1.5", "Must be at most 1."),
        ("x_al", "-0.1", "Must be at least 0."),
        ("li_excess_pct", "101", "Must be at most 100."),
        ("target_mass_g", "20000", "Must be at most 10000."),
        ("target_mass_g", "0", "Must be greater than zero."),
    ],
)
def test_bound_errors_read_must_be_at_most_or_at_least(db, field, value, message):
    data = {"target_mass_g": "10", "x_al": "0.5", "li_excess_pct": "10", field: value}
    form = LagpBatchForm(data)
    assert not form.is_valid()
    assert form.errors[field] == [message]


def test_the_calculator_names_the_field_by_its_label_and_shows_no_masses(staff_client):
    response = staff_client.get(
        "/synthesis/batches/calculator/",
        {"target_mass_g": "10", "x_al": "3", "li_excess_pct": "10"},
    )
    body = response.content.decode()
    assert "<strong>x (Al content)</strong>: Must be at most 1." in body
    assert "x_al" not in body and "Ensure this value" not in body
    assert "data-mass" not in body  # no recipe for an impossible x
    assert CalculatorForm({"target_mass_g": "10", "x_al": "3", "li_excess_pct": "10"}).errors[
        "x_al"
    ] == ["Must be at most 1."]


def test_a_service_error_on_a_field_the_form_lacks_is_named_by_its_label(db):
    form = LagpBatchForm({"target_mass_g": "10", "x_al": "0.5", "li_excess_pct": "10"})
    del form.fields["x_al"]
    assert form.is_valid()
    error = ValidationError({"x_al": ValidationError("bad", code="max_value")})
    error.error_dict["x_al"][0].params = {"limit_value": 1.0}
    apply_service_errors(form, error)
    assert form.non_field_errors() == ["x (Al content): Must be at most 1."]


# -- add a row without JS --------------------------------------------------------------------


def test_add_a_row_without_js_rerenders_the_cell_form_with_one_more_row_and_saves_nothing(
    staff_client, lots
):
    li = lots["li"]
    data = {
        **CELL_FIELDS,
        **stack(("negative", li, ""), ("electrolyte", "PEL-9999", ""), ("positive", "", "")),
        "add_row": "layers",
    }
    response = staff_client.post("/cells/new/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="layers-TOTAL_FORMS" value="4"' in body
    assert 'name="layers-3-item"' in body
    assert f'name="layers-0-item" value="{li.code}"' in body  # what was typed is kept
    assert "No item with code" not in body  # not a failed save: no errors yet
    assert not Cell.objects.exists()


def test_a_new_cell_starts_with_negative_electrolyte_and_positive_rows(staff_client):
    body = staff_client.get("/cells/new/").content.decode()
    assert 'name="layers-TOTAL_FORMS" value="3"' in body
    for index, side in enumerate(["negative", "electrolyte", "positive"]):
        row = body.split(f'name="layers-{index}-side"')[1].split("</select>")[0]
        assert f'value="{side}" selected' in row


def test_add_a_step_row_and_remove_one_without_js(staff_client, lots):
    data = batch_post(lots)
    data["add_row"] = "steps"
    response = staff_client.post("/synthesis/batches/new/", data)
    assert response.status_code == 200
    assert 'name="steps-TOTAL_FORMS" value="2"' in response.content.decode()
    data = batch_post(lots)
    data.update(
        formset(
            "steps",
            [
                {"kind": "calcination", "temperature_c": "800", "duration_min": "480"},
                {"kind": "sintering", "temperature_c": "", "DELETE": "on"},  # removed, ignored
                {"kind": "drying", "temperature_c": "80"},
            ],
        )
    )
    response = staff_client.post("/synthesis/batches/new/", data)
    assert response.status_code == 302
    batch = LagpBatch.objects.get()
    assert [s.kind for s in batch.steps.all()] == ["calcination", "drying"]


def test_a_full_grid_takes_no_more_rows(staff_client, lots):
    data = batch_post(lots)
    data.update(formset("steps", [{"kind": ""}] * 30))
    data["add_row"] = "steps"
    response = staff_client.post("/synthesis/batches/new/", data, follow=True)
    assert response.status_code == 200
    assert "Process steps: no more rows, 30 at most." in response.content.decode()


# -- broken grids: a 400 that writes nothing -------------------------------------------------


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"steps-TOTAL_FORMS": "-1"}, "was sent with -1 rows; it takes 0 to 30"),
        ({"steps-TOTAL_FORMS": "31"}, "was sent with 31 rows; it takes 0 to 30"),
        ({"precursors-TOTAL_FORMS": "13"}, "was sent with 13 rows; it takes 0 to 12"),
        ({"steps-INITIAL_FORMS": "5"}, "was sent with 5 existing rows out of 1"),
        ({"steps-INITIAL_FORMS": "-1"}, "was sent with -1 existing rows out of 1"),
        ({"steps-TOTAL_FORMS": "many"}, "The row counts of “Process steps” are missing."),
    ],
)
@pytest.mark.parametrize("add_row", [False, True])
def test_a_broken_grid_is_a_400_page_and_nothing_is_saved(
    staff_client, lots, changes, reason, add_row
):
    data = batch_post(lots, **changes)
    if add_row:
        data["add_row"] = "steps"
    response = staff_client.post("/synthesis/batches/new/", data)
    assert response.status_code == 400
    body = response.content.decode()
    assert reason in body and "Nothing was saved." in body
    assert '<a class="button" href="/">' in body
    assert not LagpBatch.objects.exists()
    assert not ProcessStep.objects.exists()


def test_a_missing_grid_is_a_400(staff_client, lots):
    data = {k: v for k, v in batch_post(lots).items() if not k.startswith("steps-")}
    response = staff_client.post("/synthesis/batches/new/", data)
    assert response.status_code == 400
    assert not LagpBatch.objects.exists()


def test_a_pellet_of_another_set_posted_to_a_set_is_a_400(staff_client):
    mine = factories.pellets(count=1)[0]
    other = factories.pellets(count=1)[0]
    row = {"thickness_mm": "0.6", "diameter_mm": "13", "mass_mg": "248.7", "notes": ""}
    data = formset("form", [{"item_ptr": other.pk, **row}], initial=1)
    response = staff_client.post(f"/synthesis/pellet-sets/{mine.pellet_set_id}/", data)
    assert response.status_code == 400
    assert "A row names a LAGP pellet that is not on this page." in response.content.decode()
    other.refresh_from_db()
    mine.refresh_from_db()
    assert other.thickness_mm is None and mine.thickness_mm is None


def test_a_new_pellet_slipped_into_a_set_is_a_400(staff_client):
    pellet = factories.pellets(count=1)[0]
    row = {"thickness_mm": "0.6", "diameter_mm": "13", "mass_mg": "248.7", "notes": ""}
    data = formset("form", [{"item_ptr": pellet.pk, **row}, row], initial=1)
    response = staff_client.post(f"/synthesis/pellet-sets/{pellet.pellet_set_id}/", data)
    assert response.status_code == 400
    assert Pellet.objects.count() == 1
    pellet.refresh_from_db()
    assert pellet.thickness_mm is None


def test_a_negative_thickness_shows_its_error_not_a_negative_density(staff_client):
    pellet = factories.pellets(count=1)[0]
    row = {"item_ptr": pellet.pk, "thickness_mm": "-0.6", "diameter_mm": "13", "mass_mg": "248.7"}
    response = staff_client.post(
        f"/synthesis/pellet-sets/{pellet.pellet_set_id}/", formset("form", [row], initial=1)
    )
    assert response.status_code == 400
    density = response.content.decode().split('data-testid="density">')[1].split("</td>")[0]
    assert "%" not in density and "fix the inputs" in density
    assert "Must be greater than zero." in response.content.decode()
