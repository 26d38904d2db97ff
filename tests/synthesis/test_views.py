"""The web forms: defaults from the paper, errors on the field, nothing half-saved."""

import pytest

from core.models import Item, LineageEdge
from synthesis.models import LagpBatch, Pellet, SpeMembrane
from tests import factories


def formset(prefix, rows, initial=None):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial or 0),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def batch_post(lots, **overrides):
    data = {
        "target_mass_g": "10",
        "x_al": "0.5",
        "li_excess_pct": "10",
        "yield_g": "",
        "phase_result": "",
        "notes": "",
    }
    data.update(
        formset(
            "precursors",
            [
                {
                    "role": role,
                    "reagent_lot": lots[role].pk,
                    "planned_mass_g": planned,
                    "weighed_mass_g": weighed,
                }
                for role, planned, weighed in [
                    ("li", "1.459", "1.460"),
                    ("al", "4.490", "4.491"),
                    ("ge", "3.757", "3.757"),
                    ("p", "8.260", "8.262"),
                ]
            ],
        )
    )
    data.update(
        formset(
            "steps",
            [
                {
                    "kind": "calcination",
                    "temperature_c": "800",
                    "duration_min": "480",
                    "ramp_c_min": "5",
                }
            ],
        )
    )
    data.update(overrides)
    return data


@pytest.fixture
def lots(db):
    return {
        role: factories.reagent_lot(f"precursor {role}", role) for role in ("li", "al", "ge", "p")
    }


def test_every_page_but_login_needs_a_login(client, db):
    assert client.get("/synthesis/batches/").status_code == 302
    assert client.get("/accounts/login/").status_code == 200


def test_the_batch_form_proposes_the_papers_masses_and_steps(staff_client):
    body = staff_client.get("/synthesis/batches/new/").content.decode()
    assert 'value="1.4592"' in body and 'value="8.2602"' in body
    assert "720" in body and "1400" in body  # both millings of the protocol
    calc = staff_client.get(
        "/synthesis/batches/calculator/",
        {"target_mass_g": "10", "x_al": "0.5", "li_excess_pct": "10"},
    )
    text = calc.content.decode()
    for mass in ("1.459", "4.490", "3.757", "8.260"):
        assert mass in text


def test_a_batch_is_saved_with_precursors_steps_and_lineage(staff_client, lots):
    response = staff_client.post("/synthesis/batches/new/", batch_post(lots))
    assert response.status_code == 302, response.content.decode()[:2000]
    batch = LagpBatch.objects.get()
    assert batch.code == "LAGP-0001"
    assert batch.precursors.get(role="p").weighed_mass_g == 8.262
    assert batch.steps.get().summary() == "800 °C, 8 h, 5 °C/min"
    assert set(LineageEdge.objects.filter(child=batch).values_list("parent__code", flat=True)) == {
        lot.code for lot in lots.values()
    }


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"target_mass_g": "-5"}, "target_mass_g", "Must be greater than zero."),
        ({"target_mass_g": "0"}, "target_mass_g", "Must be greater than zero."),
        ({"precursors-1-planned_mass_g": "0"}, None, "Must be greater than zero."),
        ({"steps-0-duration_min": "-3"}, None, "Must be greater than zero."),
        ({"precursors-0-weighed_mass_g": "-1"}, None, "Must be greater than zero."),
        ({"steps-0-temperature_c": ""}, None, "Required for this kind of step"),
        ({"x_al": "1.5"}, "x_al", "Must be at most 1."),
    ],
)
def test_impossible_batch_values_are_named_and_nothing_is_saved(
    staff_client, lots, overrides, field, message
):
    response = staff_client.post("/synthesis/batches/new/", batch_post(lots, **overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    if field:
        assert field in response.context["form"].errors
    assert not LagpBatch.objects.exists()
    assert not Item.objects.filter(kind="lagp_batch").exists()


def test_read_only_users_cannot_write(viewer_client, lots):
    response = viewer_client.post("/synthesis/batches/new/", batch_post(lots))
    assert response.status_code == 403
    assert not LagpBatch.objects.exists()


def test_start_from_a_copy_prefills_the_next_batch(staff_client, lots):
    staff_client.post("/synthesis/batches/new/", batch_post(lots, target_mass_g="20"))
    source = LagpBatch.objects.get()
    body = staff_client.get(f"/synthesis/batches/new/?copy={source.code}").content.decode()
    assert f'copy of <a href="/items/{source.code}/">{source.code}' in body
    assert 'name="target_mass_g" value="20.0"' in body
    assert 'name="steps-0-temperature_c" value="800.0"' in body


def test_a_set_of_pellets_is_pressed_in_one_form_and_measured(staff_client):
    batch = factories.lagp_batch()
    response = staff_client.post(
        "/synthesis/pellet-sets/new/",
        {
            "batch": batch.code,
            "count": "3",
            "die_diameter_mm": "15",
            "pressing_pressure_t_cm2": "3",
            "pretreatment_temperature_c": "400",
            "pretreatment_dwell_h": "2",
            "pretreatment_ramp_c_min": "3",
            "sintering_temperature_c": "900",
            "sintering_dwell_h": "8",
            "sintering_ramp_c_min": "5",
            "theoretical_density_g_cm3": "3.47",
        },
    )
    assert response.status_code == 302
    pellets = list(Pellet.objects.order_by("code"))
    assert [p.code for p in pellets] == ["PEL-0001", "PEL-0002", "PEL-0003"]
    set_url = response.url
    data = formset(
        "form",
        [
            {
                "item_ptr": p.pk,
                "thickness_mm": "0.6",
                "diameter_mm": "13",
                "mass_mg": "248.7",
                "notes": "",
            }
            for p in pellets
        ],
        initial=3,
    )
    assert staff_client.post(set_url, data).status_code == 302
    body = staff_client.get(set_url).content.decode()
    assert "90.0 %" in body  # 248.7 mg in a 13 x 0.6 mm cylinder of 3.47 g/cm3


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("sintering_temperature_c", "1400", "Must be at most 1300."),
        ("sintering_temperature_c", "450", "Must be at least 500."),
        ("batch", "LAGP-9999", "No item with code 'LAGP-9999'"),
        ("count", "0", "Must be at least 1."),
    ],
)
def test_pellet_set_errors_name_the_field(staff_client, field, value, message):
    batch = factories.lagp_batch()
    data = {
        "batch": batch.code,
        "count": "2",
        "die_diameter_mm": "15",
        "pressing_pressure_t_cm2": "3",
        "sintering_temperature_c": "900",
        "sintering_dwell_h": "8",
        "sintering_ramp_c_min": "5",
        "theoretical_density_g_cm3": "3.47",
        field: value,
    }
    response = staff_client.post("/synthesis/pellet-sets/new/", data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Pellet.objects.exists()


def test_negative_pellet_thickness_is_refused(staff_client):
    pellet = factories.pellets(count=1)[0]
    data = formset(
        "form",
        [
            {
                "item_ptr": pellet.pk,
                "thickness_mm": "-0.6",
                "diameter_mm": "13",
                "mass_mg": "250",
                "notes": "",
            }
        ],
        initial=1,
    )
    response = staff_client.post(f"/synthesis/pellet-sets/{pellet.pellet_set_id}/", data)
    assert response.status_code == 400
    pellet.refresh_from_db()
    assert pellet.thickness_mm is None


def test_membrane_ratio_that_does_not_parse_is_named(staff_client):
    lots = [factories.reagent_lot(n, n) for n in ("PEO", "LiFSI", "Pyr14FSI")]
    response = staff_client.post(
        "/synthesis/membranes/new/",
        {
            "peo_lot": lots[0].pk,
            "lifsi_lot": lots[1].pk,
            "pyr14fsi_lot": lots[2].pk,
            "molar_ratio": "10:one:4",
            "benzophenone_wt_pct": "5",
            "uv_crosslinked": "on",
            **formset("steps", []),
        },
    )
    assert response.status_code == 400
    assert "not a ratio of numbers" in " ".join(response.context["form"].errors["molar_ratio"])
    assert not SpeMembrane.objects.exists()


def test_membrane_detail_shows_the_computed_weight_percentages(staff_client):
    lots = [factories.reagent_lot(n, n) for n in ("PEO", "LiFSI", "Pyr14FSI")]
    response = staff_client.post(
        "/synthesis/membranes/new/",
        {
            "peo_lot": lots[0].pk,
            "lifsi_lot": lots[1].pk,
            "pyr14fsi_lot": lots[2].pk,
            "molar_ratio": "10:1:4",
            "benzophenone_wt_pct": "5",
            "thickness_um": "18",
            "uv_crosslinked": "on",
            **formset("steps", []),
        },
    )
    assert response.status_code == 302
    body = staff_client.get(response.url).content.decode()
    assert "23.0 : 9.8 : 67.3" in body


def test_pellets_filter_by_sintering_temperature(staff_client):
    batch = factories.lagp_batch()
    at_900 = factories.pellets(batch, count=1, temperature=900)[0]
    at_1000 = factories.pellets(batch, count=1, temperature=1000)[0]
    body = staff_client.get(
        "/synthesis/pellets/", {"sintering_temperature_c": "900"}
    ).content.decode()
    assert at_900.code in body and at_1000.code not in body


def test_search_by_code_goes_to_the_item(staff_client):
    pellet = factories.pellets(count=1)[0]
    response = staff_client.get("/search/", {"q": pellet.code.lower()})
    assert response.status_code == 302 and response.url == f"/items/{pellet.code}/"


def test_a_new_chemical_then_a_lot_of_it(staff_client):
    response = staff_client.post(
        "/synthesis/chemicals/new/",
        {
            "name": "Lithium bis(oxalato)borate",
            "category": "lithium_salt",
            "formula": "LiBOB",
            "molar_mass_g_mol": "193.79",
            "cas_number": "244761-29-3",
            "notation_label": "",
        },
    )
    assert response.status_code == 302
    assert "chemical=" in response.url
    assert "selected>Lithium bis(oxalato)borate" in staff_client.get(response.url).content.decode()
    response = staff_client.post(
        "/synthesis/chemicals/new/", {"name": "X", "molar_mass_g_mol": "-1"}
    )
    assert response.status_code == 400
