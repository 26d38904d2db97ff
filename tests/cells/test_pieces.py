"""A pellet, a membrane piece or an electrode disk is one physical thing: it goes into one cell."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from cells.models import CellLayer
from cells.services import cell_save
from synthesis.models import MembranePiece
from tests import factories

pytestmark = pytest.mark.django_db


def _symmetric(li, *electrolyte):
    layers = [
        {"side": "negative", "item": li},
        *({"side": "electrolyte", "item": item} for item in electrolyte),
        {"side": "positive", "item": li},
    ]
    return cell_save(fields={"active_area_cm2": 1.13}, layers=layers)


def test_a_pellet_already_in_a_cell_is_refused_naming_that_cell():
    li = factories.reagent_lot("Lithium foil", "Li", "Li")
    pellet = factories.pellets(count=1)[0]
    first = _symmetric(li, pellet)
    with pytest.raises(ValidationError) as refused:
        _symmetric(li, pellet)
    assert refused.value.message_dict["layers"] == [
        f"Layer 2: {pellet.code} is already in {first.code}; a piece goes into one cell."
    ]


def test_one_piece_twice_in_one_stack_is_refused():
    li = factories.reagent_lot("Lithium foil", "Li", "Li")
    piece = factories.membrane_pieces(count=1)[0]
    pellet = factories.pellets(count=1)[0]
    with pytest.raises(ValidationError) as refused:
        _symmetric(li, piece, pellet, piece)
    assert refused.value.message_dict["layers"] == [
        f"Layer 4: {piece.code} is already layer 2 of this cell."
    ]


def test_rebuilding_a_cell_keeps_its_own_pieces_and_lots_go_into_many_cells():
    li = factories.reagent_lot("Lithium foil", "Li", "Li")
    pellets = factories.pellets(count=2)
    cell = _symmetric(li, pellets[0])
    rebuilt = cell_save(
        instance=cell,
        fields={"notes": "re-stacked"},
        layers=[
            {"side": "negative", "item": li},
            {"side": "electrolyte", "item": pellets[0]},
            {"side": "positive", "item": li},
        ],
    )
    assert rebuilt.notation == "Li|LAGP|Li"
    _symmetric(li, pellets[1])  # the same lithium lot in a second cell is fine
    assert CellLayer.objects.filter(item=li).count() == 4


def test_the_database_refuses_a_second_use_even_past_the_service():
    li = factories.reagent_lot("Lithium foil", "Li", "Li")
    disk = factories.cathode_disks(count=1)[0]
    cell = factories.full_cell(li=li, disk=disk)
    other = factories.symmetric_cell(li=li)
    with pytest.raises(IntegrityError), transaction.atomic():
        CellLayer.objects.create(cell=other, position=9, side="positive", item=disk, is_piece=True)
    assert CellLayer.objects.filter(item=disk).get().cell == cell


def test_a_membrane_sheet_must_be_cut_into_pieces_for_a_cell():
    li = factories.reagent_lot("Lithium foil", "Li", "Li")
    membrane = factories.spe_membrane(thickness_um=20.0)
    with pytest.raises(ValidationError) as refused:
        _symmetric(li, membrane)
    assert refused.value.message_dict["layers"] == [
        f"Layer 2 ({membrane.code}) is a membrane sheet: cut pieces from it (on its page) and "
        "give a piece's code."
    ]
    piece = factories.membrane_pieces(count=1, membrane=membrane)[0]
    cell = _symmetric(li, piece)
    assert cell.notation == "Li|SPE|Li"
    assert membrane.code in [e.parent.code for e in piece.parent_edges.all()]


def test_a_piece_takes_its_thickness_from_the_membrane_unless_measured():
    pieces = factories.membrane_pieces(count=2, diameter_mm=16.0)
    assert pieces[0].thickness_um == 20.0
    assert round(pieces[0].area_cm2, 4) == 2.0106  # pi (0.8 cm)^2
    pieces[1].measured_thickness_um = 23.0
    assert pieces[1].thickness_um == 23.0


def test_pieces_are_cut_from_the_web_form(staff_client):
    membrane = factories.spe_membrane(thickness_um=20.0)
    response = staff_client.post(
        "/synthesis/membrane-pieces/new/",
        {"membrane": membrane.code.lower(), "count": "3", "diameter_mm": "16", "notes": ""},
    )
    assert response.status_code == 302 and response.url == f"/items/{membrane.code}/"
    assert MembranePiece.objects.filter(membrane=membrane).count() == 3
    page = staff_client.get(response.url).content.decode()
    assert "none cut yet" not in page
    pieces_table = page.split("<h2>Pieces</h2>")[1].split("</table>")[0]
    assert pieces_table.count("<tr><td><a") == 3


def test_pieces_are_cut_through_the_api(api):
    membrane = factories.spe_membrane(thickness_um=20.0)
    response = api.post(
        "/api/membrane-pieces/",
        {"membrane": membrane.code, "count": 2, "diameter_mm": 16},
        format="json",
    )
    assert response.status_code == 201, response.json()
    codes = list(MembranePiece.objects.order_by("code").values_list("code", flat=True))
    assert len(codes) == 2
    one = api.get(f"/api/membrane-pieces/{codes[0]}/").json()
    assert (one["membrane"], one["thickness_um"]) == (membrane.code, 20.0)


def test_the_cell_form_names_the_cell_a_pellet_is_already_in(staff_client):
    from tests.cells.test_views import CELL_FIELDS, stack

    li = factories.reagent_lot("Lithium foil", "Li", "Li")
    pellet = factories.pellets(count=1)[0]
    first = _symmetric(li, pellet)
    data = {
        **CELL_FIELDS,
        **stack(("negative", li, ""), ("electrolyte", pellet, ""), ("positive", li, "")),
    }
    response = staff_client.post("/cells/new/", data)
    assert response.status_code == 400
    assert f"{pellet.code} is already in {first.code}" in response.content.decode()


def test_a_measurement_on_a_piece_uses_its_area_and_the_membranes_thickness():
    from measurements.models import Measurement
    from measurements.services import measurement_inputs

    piece = factories.membrane_pieces(count=1, diameter_mm=16.0)[0]
    inputs = measurement_inputs(Measurement(item=piece, technique="eis"))
    assert inputs["thickness_um"] == 20.0
    assert round(inputs["area_cm2"], 4) == 2.0106


def test_a_piece_is_edited_from_its_page(staff_client):
    piece = factories.membrane_pieces(count=1)[0]
    form = staff_client.get(f"/items/{piece.code}/edit/")
    assert form.status_code == 200
    response = staff_client.post(
        f"/items/{piece.code}/edit/",
        {
            "diameter_mm": "15",
            "measured_thickness_um": "22",
            "notes": "",
            "_version": piece.version,
        },
    )
    assert response.status_code == 302
    piece.refresh_from_db()
    assert (piece.diameter_mm, piece.thickness_um) == (15.0, 22.0)


def test_the_admin_refuses_a_piece_already_in_a_cell(admin_client):
    li = factories.reagent_lot("Lithium foil", "Li", "Li")
    pellet = factories.pellets(count=1)[0]
    first = _symmetric(li, pellet)
    other = factories.symmetric_cell(li=li)
    url = f"/admin/cells/cell/{other.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    layers = list(other.layers.order_by("position"))
    data = {
        "format": other.format,
        "active_area_cm2": "1.13",
        "test_temperature_c": "40",
        "notes": "",
        "layers-TOTAL_FORMS": str(len(layers) + 1),
        "layers-INITIAL_FORMS": str(len(layers)),
        "layers-MIN_NUM_FORMS": "0",
        "layers-MAX_NUM_FORMS": "1000",
        **{
            f"layers-{i}-{k}": v
            for i, layer in enumerate(layers)
            for k, v in {
                "id": layer.pk,
                "cell": other.pk,
                "position": layer.position,
                "side": layer.side,
                "item": layer.item_id,
            }.items()
        },
        f"layers-{len(layers)}-cell": other.pk,
        f"layers-{len(layers)}-position": "9",
        f"layers-{len(layers)}-side": "electrolyte",
        f"layers-{len(layers)}-item": pellet.pk,
    }
    for prefix in ("steps", "parent_edges"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = admin_client.post(url, data)
    assert response.status_code == 200  # the form again, with the error
    assert f"{pellet.code} is already in {first.code}" in response.content.decode()
    assert CellLayer.objects.filter(item=pellet).get().cell == first
