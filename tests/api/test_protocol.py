"""Every request has a defined answer: 400/404/405/406/413/415, never a 500."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from cells.models import Cell
from synthesis.models import Chemical, ElectrodeDisk, ReagentLot
from tests import factories


@pytest.fixture
def chemical(db):
    return factories.ChemicalFactory(name="Lithium foil")


def test_malformed_json_is_400(api, chemical):
    response = api.post("/api/reagent-lots/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize("body", ["NaN", '{"quantity": Infinity}', "[" * 100_000 + "]" * 100_000])
def test_non_json_numbers_and_absurd_nesting_are_400(api, chemical, body):
    response = api.post("/api/reagent-lots/", body, content_type="application/json")
    assert response.status_code == 400


def test_a_body_that_is_not_an_object_is_400(api, chemical):
    response = api.post("/api/reagent-lots/", [1, 2], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_form_data_is_415(api, chemical):
    response = api.post("/api/reagent-lots/", {"chemical": "Lithium foil"})
    assert response.status_code == 415


def test_a_body_over_the_limit_is_413(api, chemical, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"chemical": "Lithium foil", "supplier": "x" * 2000, "lot_number": "1"}
    response = api.post("/api/reagent-lots/", body, format="json")
    assert response.status_code == 413
    assert not ReagentLot.objects.exists()


def test_unknown_methods_and_formats(api, db):
    assert api.post("/api/items/", {}, format="json").status_code == 405
    response = api.get("/api/cells/?format=xml")
    assert response.status_code == 406
    assert response.json() == {"detail": "Unknown format 'xml'; use one of: json, csv."}
    assert api.get("/api/cells/", HTTP_ACCEPT="application/xml").status_code == 406


def test_bad_filters_and_pages(api, db):
    response = api.get("/api/pellets/", {"sintering_temperature_c": "hot"})
    assert response.status_code == 400 and "sintering_temperature_c" in response.json()
    assert api.get("/api/cells/", {"page": 99}).status_code == 404
    assert api.get("/api/cells/", {"cell_format": "bottle"}).status_code == 400


def test_page_size_goes_up_to_1000(api, db):
    factories.pellets(count=60)
    assert len(api.get("/api/pellets/").json()["results"]) == 50
    assert len(api.get("/api/pellets/?page_size=1000").json()["results"]) == 60
    assert len(api.get("/api/pellets/?page_size=5000").json()["results"]) == 60
    page = api.get("/api/pellets/?page_size=25&page=3").json()
    assert len(page["results"]) == 10 and page["next"] is None


def test_lists_come_as_csv_too(api, db):
    factories.pellets(count=3)
    response = api.get("/api/pellets/?format=csv&ordering=-code")
    frame = pd.read_csv(io.BytesIO(response.content))
    assert list(frame["code"]) == ["PEL-0003", "PEL-0002", "PEL-0001"]
    assert set(frame["sintering_temperature_c"]) == {900.0}


def test_a_geometry_beyond_any_lab_sample_is_refused_by_field(api, db):
    disk = factories.cathode_disks(count=1)[0]
    response = api.patch(
        f"/api/electrode-disks/{disk.code}/", {"diameter_mm": 1e200}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["diameter_mm"] == ["Must be at most 100."]


def test_huge_numbers_are_refused_by_field(api, db):
    batch = factories.lagp_batch()
    body = '{"steps": [{"kind": "ball_milling", "rpm": 1%s, "duration_min": 1e999}]}' % ("0" * 30)
    response = api.patch(f"/api/lagp-batches/{batch.code}/", body, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["steps"]["0"]) == {"rpm", "duration_min"}


def test_values_too_extreme_to_compute_with_are_400_and_not_written(api, db):
    factories.full_cell()
    coating = ElectrodeDisk.objects.get().coating
    body = {"coating": coating.code, "count": 1, "diameter_mm": 1e200}
    response = api.post("/api/electrode-disks/", body, format="json")
    assert response.status_code == 400 and "diameter_mm" in response.json()
    assert ElectrodeDisk.objects.count() == 1
    assert Cell.objects.count() == 1


def test_an_empty_list_as_csv_still_has_its_header(api, db):
    response = api.get("/api/cells/?format=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    frame = pd.read_csv(io.BytesIO(response.content))
    assert frame.empty and {"code", "notation", "layers"} <= set(frame.columns)


@pytest.mark.parametrize("charset", ["klingon", "latin-1", "utf-16"])
def test_a_body_in_a_charset_other_than_utf8_is_415_not_guessed(api, db, charset):
    body = '{"name": "Bromure de lithium à 99 %"}'.encode("latin-1")
    response = api.post(
        "/api/chemicals/", body, content_type=f"application/json; charset={charset}"
    )
    assert response.status_code == 415
    assert response.json() == {
        "detail": f"The body must be UTF-8; charset='{charset}' is not accepted."
    }
    assert not Chemical.objects.exists()


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8"])
def test_utf8_may_be_named(api, db, charset):
    body = '{"name": "Bromure de lithium à 99 %", "category": "other"}'.encode()
    response = api.post(
        "/api/chemicals/", body, content_type=f"application/json; charset={charset}"
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Bromure de lithium à 99 %"


def test_the_api_root_links_every_endpoint(api, db):
    links = api.get("/api/").json()
    assert {"cells", "pellet-sets", "items", "lineage-table", "tokens", "docs"} <= set(links)


def test_unknown_api_urls_are_json_404(anon_api, api):
    for client in (anon_api, api):
        response = client.post("/api/spaceships/", {}, format="json")
        assert response.status_code == 404
        assert response.json() == {"detail": "No such API endpoint; /api/ lists them."}
