"""Every record type through the API: the same result as the web form, errors named by field,
nothing half-written, deletes refused while something was made from the record."""

from __future__ import annotations

import re

import pytest
from django.forms.models import model_to_dict

from cells.models import Cell
from core.models import AuditEvent, CodeCounter, Item, LineageEdge
from core.services import set_steps
from synthesis.models import (
    CathodeCoating,
    ElectrodeDisk,
    IleBatch,
    LagpBatch,
    Pellet,
    PelletSet,
    ReagentLot,
    SpeMembrane,
)
from tests import factories
from tests.synthesis.test_views import batch_post, formset

# Fields that differ between two otherwise equal records.
OWN_FIELDS = {"id", "item_ptr", "code", "created_at", "updated_at", "pellet_set"}
CODE = re.compile(r"^([A-Z]+)-\d{4}$")


def fingerprint(item: Item) -> dict:
    """Everything a record is, except its identity: fields, derived summary, steps, lineage."""
    item = item.specific
    fields = {k: v for k, v in model_to_dict(item).items() if k not in OWN_FIELDS}
    parents = sorted(
        (e.parent.code, e.role, e.amount, e.amount_unit) for e in item.parent_edges.all()
    )
    return {
        "prefix": CODE.match(item.code).group(1),
        "fields": fields,
        "summary": item.summary,
        "steps": [s.summary() for s in item.steps.all()],
        "parents": parents,
        "parts": _parts(item),
    }


def _parts(item: Item) -> list:
    if isinstance(item, LagpBatch):
        return [model_to_dict(u, exclude=["id", "batch"]) for u in item.precursors.all()]
    if isinstance(item, Cell):
        return [model_to_dict(layer, exclude=["id", "cell"]) for layer in item.layers.all()]
    return []


def newest(model) -> Item:
    return model.objects.order_by("-pk").first()


@pytest.fixture
def lots(db) -> dict:
    names = {
        "li_foil": ("Lithium foil", "Li", "Li"),
        "peo": ("PEO", "PEO", ""),
        "lifsi": ("LiFSI", "LiN(SO2F)2", ""),
        "pyr": ("Pyr14FSI", "Pyr14FSI", ""),
        "litfsi": ("LiTFSI", "LiTFSI", ""),
        "ncm": ("NCM811", "LiNi0.8Co0.1Mn0.1O2", "NCM811"),
        "c65": ("Super C65", "C", ""),
        "pvdf": ("PVdF", "PVdF", ""),
        **{role: (f"precursor {role}", role, "") for role in ("li", "al", "ge", "p")},
    }
    return {key: factories.reagent_lot(*args) for key, args in names.items()}


STEP = {"kind": "vacuum_drying", "temperature_c": 80, "atmosphere": "vacuum"}
WEB_STEP = formset("steps", [{k: str(v) for k, v in STEP.items()}])


def _same(staff_client, api, web_url, web_data, api_url, api_data, model, pieces=False):
    """The web form and the API make the same record from the same input. `pieces`: the record
    takes physical pieces (a cell), so the web's record is removed before the API builds it
    again from the same pieces."""
    web = staff_client.post(web_url, web_data)
    assert web.status_code == 302, web.content.decode()[-2000:]
    from_web = newest(model)
    expected = fingerprint(from_web)
    if pieces:
        from_web.delete()
    response = api.post(api_url, api_data, format="json")
    assert response.status_code == 201, response.json()
    from_api = newest(model)
    assert from_api.pk != from_web.pk
    assert fingerprint(from_api) == expected
    return from_web, from_api, response.json()


def test_reagent_lot_as_the_form_makes_it(staff_client, api, lots):
    chemical = lots["li_foil"].chemical
    common = {"supplier": "Honjo", "grade": "battery", "lot_number": "H7", "quantity_unit": "g"}
    web = {**common, "chemical": chemical.pk, "received_on": "2024-01-15", "quantity": "100"}
    body = {**common, "chemical": chemical.name, "received_on": "2024-01-15", "quantity": 100}
    _, lot, data = _same(
        staff_client, api, "/synthesis/reagents/new/", web, "/api/reagent-lots/", body, ReagentLot
    )
    assert data["code"] == lot.code and data["formula"] == "Li"


def test_lagp_batch_with_precursors_and_steps_in_one_request(staff_client, api, lots):
    masses = [("li", 1.459, 1.460), ("al", 4.490, 4.491), ("ge", 3.757, 3.757), ("p", 8.260, 8.262)]
    body = {
        "target_mass_g": 10,
        "x_al": 0.5,
        "li_excess_pct": 10,
        "precursors": [
            {"role": r, "reagent_lot": lots[r].code, "planned_mass_g": p, "weighed_mass_g": w}
            for r, p, w in masses
        ],
        "steps": [
            {"kind": "calcination", "temperature_c": 800, "duration_min": 480, "ramp_c_min": 5}
        ],
    }
    web = batch_post({r: lots[r] for r in ("li", "al", "ge", "p")})
    _, batch, data = _same(
        staff_client, api, "/synthesis/batches/new/", web, "/api/lagp-batches/", body, LagpBatch
    )
    assert data["steps"][0]["temperature_c"] == 800
    assert [p["reagent_lot"] for p in data["precursors"]] == [
        lots[r].code for r in ["al", "ge", "li", "p"]
    ]


def test_a_batch_sent_without_steps_gets_the_lab_protocol(api, lots):
    response = api.post("/api/lagp-batches/", {"target_mass_g": 5}, format="json")
    assert response.status_code == 201
    kinds = [s["kind"] for s in response.json()["steps"]]
    assert kinds[0] == "ball_milling" and "calcination" in kinds
    empty = api.post("/api/lagp-batches/", {"target_mass_g": 5, "steps": []}, format="json")
    assert empty.json()["steps"] == []


def test_patch_changes_fields_and_keeps_precursors_and_steps(api, lots):
    batch = factories.lagp_batch()
    set_steps(batch, [STEP])
    before = fingerprint(batch)
    response = api.patch(f"/api/lagp-batches/{batch.code}/", {"yield_g": 8.7}, format="json")
    assert response.status_code == 200, response.json()
    batch.refresh_from_db()
    after = fingerprint(batch)
    assert after["fields"]["yield_g"] == 8.7
    assert (after["parts"], after["steps"], after["parents"]) == (
        before["parts"],
        before["steps"],
        before["parents"],
    )


def test_pellet_sets_make_n_pellets_like_the_form(staff_client, api):
    batch = factories.lagp_batch()
    conditions = {"sintering_temperature_c": 950, "sintering_dwell_h": 8, "die_diameter_mm": 15}
    web = {"batch": batch.code, "count": "3", "pressing_pressure_t_cm2": "3"}
    web.update({k: str(v) for k, v in conditions.items()})
    web.update({"sintering_ramp_c_min": "5", "theoretical_density_g_cm3": "3.47"})
    # What the form shows pre-filled (the model's defaults, which the API applies too).
    web.update({"pretreatment_temperature_c": "400", "pretreatment_dwell_h": "2"})
    web.update({"pretreatment_ramp_c_min": "3"})
    assert staff_client.post("/synthesis/pellet-sets/new/", web).status_code == 302
    body = {"batch": batch.code.lower(), "count": 3, **conditions}
    response = api.post("/api/pellet-sets/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["count"], data["items"]) == (3, ["PEL-0004", "PEL-0005", "PEL-0006"])
    assert data["sintering_temperature_c"] == 950 and data["batch"] == batch.code
    assert api.get(f"/api/pellet-sets/{data['id']}/").json() == data
    by_web, by_api = PelletSet.objects.order_by("pk")
    keep = ("id",)
    assert model_to_dict(by_web, exclude=keep) == model_to_dict(by_api, exclude=keep)
    web_pellets = [fingerprint(p) for p in by_web.pellets.order_by("code")]
    api_pellets = [fingerprint(p) for p in by_api.pellets.order_by("code")]
    assert web_pellets == api_pellets
    assert api_pellets[0]["parents"] == [(batch.code, "powder", None, "mg")]


def test_pellet_measurements_give_the_relative_density(api):
    pellet = factories.pellets(count=1)[0]
    body = {"thickness_mm": 0.6, "diameter_mm": 13, "mass_mg": 248.7}
    response = api.patch(f"/api/pellets/{pellet.code.lower()}/", body, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert round(data["relative_density"], 3) == 0.900
    assert (data["sintering_temperature_c"], data["batch"]) == (900, pellet.pellet_set.batch.code)
    assert api.post("/api/pellets/", body, format="json").status_code == 405


def test_membrane_ile_and_coating_as_the_forms_make_them(staff_client, api, lots):
    spe = {"molar_ratio": "10:1:4", "benzophenone_wt_pct": 5, "thickness_um": 18}
    spe_lots = {"peo_lot": "peo", "lifsi_lot": "lifsi", "pyr14fsi_lot": "pyr"}
    _same(
        staff_client,
        api,
        "/synthesis/membranes/new/",
        {**spe, **{f: lots[k].pk for f, k in spe_lots.items()}, "uv_crosslinked": "on", **WEB_STEP},
        "/api/spe-membranes/",
        {**spe, **{f: lots[k].code for f, k in spe_lots.items()}, "steps": [STEP]},
        SpeMembrane,
    )
    ile = {"pyr14fsi_mol_fraction": 0.8, "water_content_ppm": 2}
    ile_lots = {"pyr14fsi_lot": "pyr", "litfsi_lot": "litfsi"}
    _same(
        staff_client,
        api,
        "/synthesis/ile/new/",
        {**ile, **{f: lots[k].pk for f, k in ile_lots.items()}, **WEB_STEP},
        "/api/ile-batches/",
        {**ile, **{f: lots[k].code for f, k in ile_lots.items()}, "steps": [STEP]},
        IleBatch,
    )
    coating = {"mass_ratio": "92:4:4", "solids_pct": 60}
    coating_lots = {"active_lot": "ncm", "carbon_lot": "c65", "binder_lot": "pvdf"}
    _, _, data = _same(
        staff_client,
        api,
        "/synthesis/coatings/new/",
        {**coating, **{f: lots[k].pk for f, k in coating_lots.items()}, **WEB_STEP},
        "/api/cathode-coatings/",
        {**coating, **{f: lots[k].code for f, k in coating_lots.items()}, "steps": [STEP]},
        CathodeCoating,
    )
    assert data["active_fraction"] == 0.92


def test_electrode_disks_are_punched_n_at_once(staff_client, api):
    coating = factories.cathode_disks(count=1)[0].coating
    fields = {"diameter_mm": 12, "active_loading_mg_cm2": 2.7}
    web = {"coating": coating.code, "count": "2", "notes": "", **fields}
    assert staff_client.post("/synthesis/disks/new/", web).status_code == 302
    response = api.post(
        "/api/electrode-disks/", {"coating": coating.code, "count": 2, **fields}, format="json"
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["count"], data["items"]) == (2, ["ELD-0004", "ELD-0005"])
    assert (data["coating"], data["diameter_mm"]) == (coating.code, 12)
    assert round(data["active_mass_mg"], 3) == 3.054
    disks = list(ElectrodeDisk.objects.order_by("code"))
    assert fingerprint(disks[1]) == fingerprint(disks[3])


def test_changing_a_disk_loading_recomputes_its_cells(api, django_capture_on_commit_callbacks):
    cell = factories.full_cell()
    disk = cell.layers.get(side="positive").item
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"/api/electrode-disks/{disk.code}/", {"active_loading_mg_cm2": 12}, format="json"
        )
    assert response.status_code == 200
    cell.refresh_from_db()
    assert round(cell.active_mass_mg, 2) == round(12 * 1.130973, 2)


def _cell_parts():
    return {
        "li": factories.reagent_lot("Lithium foil", "Li", "Li"),
        "pellet": factories.pellets(count=1)[0],
        "disk": factories.cathode_disks(count=1)[0],
    }


def test_cells_as_the_form_builds_them(staff_client, api, staff):
    parts = _cell_parts()
    stack = [("negative", "li"), ("electrolyte", "pellet"), ("positive", "disk")]
    fields = {"format": "coin", "active_area_cm2": 1.13, "test_temperature_c": 40}
    web = {**{k: str(v) for k, v in fields.items()}, "operator": staff.pk, "notes": ""}
    web.update(
        formset(
            "layers",
            [{"side": s, "item": parts[k].code, "amount_ul": "", "label": ""} for s, k in stack],
        )
    )
    layers = [{"side": s, "item": parts[k].code} for s, k in stack]
    _, cell, data = _same(
        staff_client,
        api,
        "/cells/new/",
        web,
        "/api/cells/",
        {**fields, "layers": layers},
        Cell,
        pieces=True,
    )
    assert data["notation"] == "Li|LAGP|NCM811"
    assert data["operator"] == staff.username
    assert round(data["active_mass_mg"], 3) == 3.054
    assert round(data["c_rate_currents_ma"]["0.1C"], 4) == 0.0611
    assert data["layers"][1] == {
        "side": "electrolyte",
        "item": parts["pellet"].code,
        "amount_ul": None,
        "label": "",
    }


def _nothing_written(before: dict) -> None:
    assert _counts() == before


def _counts() -> dict:
    return {
        "items": Item.objects.count(),
        "edges": LineageEdge.objects.count(),
        "audit": AuditEvent.objects.count(),
        "codes": list(CodeCounter.objects.values_list("prefix", "last_number")),
    }


@pytest.fixture
def parts(db):
    return {
        **_cell_parts(),
        "peo": factories.reagent_lot("PEO", "PEO"),
        "lifsi": factories.reagent_lot("LiFSI", "LiN(SO2F)2"),
        "pyr": factories.reagent_lot("Pyr14FSI", "Pyr14FSI"),
        "cu": factories.reagent_lot("Copper foil", "Cu", "Cu"),
        "ncm": factories.reagent_lot("NCM811", "LiNi0.8Co0.1Mn0.1O2"),
    }


def _cell_body(parts, *layers) -> dict:
    return {
        "format": "coin",
        "layers": [
            {"side": side, "item": getattr(item, "code", item), **extra}
            for side, item, extra in layers
        ],
    }


@pytest.mark.parametrize(
    "case",
    [
        "negative thickness",
        "sintering 1400",
        "ratio 10:x:4",
        "copper foil as the PEO lot",
        "unknown layer code",
        "no electrodes",
        "negative ILE drop",
        "batch as a layer",
        "x above 1",
        "step without temperature",
        "NCM811 as the lithium source",
        "unknown chemical",
        "count 0",
    ],
)
def test_bad_input_is_400_naming_the_field_and_nothing_is_written(api, parts, case):
    pellet, li, disk = parts["pellet"], parts["li"], parts["disk"]
    batch = pellet.pellet_set.batch
    requests = {
        "negative thickness": (
            "patch",
            f"/api/pellets/{pellet.code}/",
            {"thickness_mm": -0.6},
            {"thickness_mm": ["Must be greater than zero."]},
        ),
        "sintering 1400": (
            "post",
            "/api/pellet-sets/",
            {"batch": batch.code, "count": 2, "sintering_temperature_c": 1400},
            {"sintering_temperature_c": ["Must be at most 1300."]},
        ),
        "ratio 10:x:4": (
            "post",
            "/api/spe-membranes/",
            {
                "peo_lot": parts["peo"].code,
                "lifsi_lot": parts["lifsi"].code,
                "pyr14fsi_lot": parts["pyr"].code,
                "molar_ratio": "10:x:4",
            },
            "molar_ratio",
        ),
        "copper foil as the PEO lot": (
            "post",
            "/api/spe-membranes/",
            {
                "peo_lot": parts["cu"].code,
                "lifsi_lot": parts["lifsi"].code,
                "pyr14fsi_lot": parts["pyr"].code,
            },
            {
                "peo_lot": [
                    f"PEO lot: {parts['cu'].code} is Copper foil (current-collector foil); "
                    "this slot takes polymer."
                ]
            },
        ),
        "unknown layer code": (
            "post",
            "/api/cells/",
            _cell_body(
                parts, ("negative", li, {}), ("electrolyte", "PEL-9999", {}), ("positive", disk, {})
            ),
            {"layers": {"1": {"item": ["No item with code 'PEL-9999'."]}}},
        ),
        "no electrodes": (
            "post",
            "/api/cells/",
            _cell_body(parts, ("electrolyte", pellet, {})),
            {
                "layers": [
                    "The stack has no negative electrode.",
                    "The stack has no positive electrode.",
                ]
            },
        ),
        "negative ILE drop": (
            "post",
            "/api/cells/",
            _cell_body(
                parts,
                ("negative", li, {}),
                ("electrolyte", pellet, {"amount_ul": -5}),
                ("positive", li, {}),
            ),
            "layers",
        ),
        "batch as a layer": (
            "post",
            "/api/cells/",
            _cell_body(
                parts, ("negative", li, {}), ("electrolyte", batch, {}), ("positive", li, {})
            ),
            "layers",
        ),
        "x above 1": ("post", "/api/lagp-batches/", {"x_al": 1.5}, "x_al"),
        "step without temperature": (
            "post",
            "/api/lagp-batches/",
            {"steps": [{"kind": "sintering", "duration_min": 60}]},
            {"steps": {"0": {"temperature_c": ["Required for this kind of step."]}}},
        ),
        "NCM811 as the lithium source": (
            "post",
            "/api/lagp-batches/",
            {"precursors": [{"role": "li", "reagent_lot": parts["ncm"].code, "planned_mass_g": 1}]},
            {
                "precursors": [
                    f"Row 1: Li source (Li2CO3): {parts['ncm'].code} is NCM811 (active "
                    "material); this slot takes lithium source."
                ]
            },
        ),
        "unknown chemical": (
            "post",
            "/api/reagent-lots/",
            {"chemical": "Unobtainium", "supplier": "x", "lot_number": "1"},
            "chemical",
        ),
        "count 0": (
            "post",
            "/api/electrode-disks/",
            {"coating": disk.coating.code, "count": 0},
            "count",
        ),
    }
    method, url, body, expected = requests[case]
    before = _counts()
    response = getattr(api, method)(url, body, format="json")
    assert response.status_code == 400, response.content
    if isinstance(expected, str):
        assert expected in response.json()
    else:
        assert response.json() == expected
    _nothing_written(before)
    pellet.refresh_from_db()
    assert pellet.thickness_mm is None


def test_a_lineage_cycle_is_refused(api, parts):
    """A lot recorded as made from a cell (say, recycled lithium) cannot go into that cell."""
    from core.services import link

    cell = factories.full_cell(li=parts["li"], pellet=parts["pellet"], disk=parts["disk"])
    recycled = factories.reagent_lot("Lithium foil", "Li", "Li")
    link(cell, recycled, role="other")
    before = _counts()
    body = {
        "layers": [
            {"side": "negative", "item": recycled.code},
            {"side": "electrolyte", "item": parts["pellet"].code},
            {"side": "positive", "item": parts["disk"].code},
        ]
    }
    response = api.patch(f"/api/cells/{cell.code}/", body, format="json")
    assert response.status_code == 400
    assert "cycle" in response.json()["parent"][0]
    _nothing_written(before)
    assert cell.layers.get(side="negative").item_id == parts["li"].pk


def test_deleting_a_batch_with_pellets_is_409_naming_them(api):
    pellets = factories.pellets(count=2)
    batch = pellets[0].pellet_set.batch
    response = api.delete(f"/api/lagp-batches/{batch.code}/")
    assert response.status_code == 409
    body = response.json()
    assert body["dependents"] == [p.code for p in pellets]
    assert batch.code in body["detail"]
    assert LagpBatch.objects.filter(pk=batch.pk).exists()


def test_deleting_a_pellet_set_with_pellets_is_409(api):
    pellet = factories.pellets(count=1)[0]
    response = api.delete(f"/api/pellet-sets/{pellet.pellet_set_id}/")
    assert response.status_code == 409
    assert response.json()["dependents"] == [pellet.code]


def test_an_unused_record_is_deleted_and_audited(api, staff):
    lot = factories.reagent_lot()
    assert api.delete(f"/api/reagent-lots/{lot.code}/").status_code == 204
    assert not ReagentLot.objects.filter(pk=lot.pk).exists()
    assert AuditEvent.objects.filter(action="delete", user=staff).exists()


def test_a_cell_can_be_deleted_and_frees_its_parts(api, parts):
    cell = factories.full_cell(li=parts["li"], pellet=parts["pellet"], disk=parts["disk"])
    assert api.delete(f"/api/pellets/{parts['pellet'].code}/").status_code == 409
    assert api.delete(f"/api/cells/{cell.code}/").status_code == 204
    assert api.delete(f"/api/pellets/{parts['pellet'].code}/").status_code == 204
    assert not Pellet.objects.filter(pk=parts["pellet"].pk).exists()


def test_pellet_set_count_is_only_for_making_the_set(api):
    pellet = factories.pellets(count=1)[0]
    url = f"/api/pellet-sets/{pellet.pellet_set_id}/"
    response = api.patch(url, {"count": 5}, format="json")
    assert response.status_code == 400 and "count" in response.json()
    response = api.patch(url, {"sintering_temperature_c": 950}, format="json")
    assert response.status_code == 200
    pellet.refresh_from_db()
    assert "sintered 950" in pellet.summary
