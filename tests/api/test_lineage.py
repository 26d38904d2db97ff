"""Lineage through the API: rows with their depth, and lineage tables joining cells with their
ancestors' data, as JSON or CSV."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests import factories


@pytest.fixture
def study(demo):
    """The demo study plus one cell on a pellet sintered at 950 °C."""
    return {**demo, "cell_950": factories.full_cell(pellet=demo["pellets"][950][0])}


def test_descendants_of_a_batch_come_with_their_depth(api, study):
    batch = study["batch"].code
    rows = api.get(f"/api/items/{batch}/lineage/", {"direction": "descendants"}).json()
    depth = {row["code"]: row["depth"] for row in rows}
    assert depth[study["pellets"][900][0].code] == 1
    assert depth[study["full_spe"].code] == 2
    assert set(rows[0]) == {"code", "kind", "summary", "depth"}
    near = api.get(f"/api/items/{batch}/lineage/?direction=descendants&depth=1").json()
    assert {row["kind"] for row in near} == {"pellet"}


def test_ancestors_of_a_cell_reach_the_reagent_lots(api, study):
    rows = api.get(f"/api/items/{study['full_spe'].code.lower()}/lineage/").json()
    kinds = {row["kind"] for row in rows}
    assert {"pellet", "lagp_batch", "spe_membrane", "ile_batch", "reagent_lot"} <= kinds
    assert max(row["depth"] for row in rows) == 3  # lot -> batch -> pellet -> cell


@pytest.mark.parametrize(
    "query, field",
    [("direction=sideways", "direction"), ("depth=0", "depth"), ("depth=abc", "depth")],
)
def test_bad_lineage_parameters_are_named(api, study, query, field):
    response = api.get(f"/api/items/{study['batch'].code}/lineage/?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_unknown_codes_are_404(api, db):
    assert api.get("/api/items/PEL-9999/lineage/").status_code == 404
    assert api.get("/api/items/PEL-9999/").status_code == 404
    assert api.get("/api/cells/not%20a%20code/").status_code == 404


def test_any_item_is_read_with_the_fields_of_its_kind(api, study):
    pellet = study["pellets"][900][0]
    data = api.get(f"/api/items/{pellet.code}/").json()
    assert data["kind"] == "pellet" and data["sintering_temperature_c"] == 900
    assert data == api.get(f"/api/pellets/{pellet.code}/").json()
    items = api.get("/api/items/", {"kind": "cell", "q": "CELL"}).json()
    assert items["count"] == 7


def test_the_lineage_table_filters_cells_by_their_pellets_sintering_temperature(api, study):
    table = api.get("/api/lineage-table/", {"pellet__sintering_temperature_c": 950}).json()
    assert [row["code"] for row in table["results"]] == [study["cell_950"].code]
    at_900 = api.get("/api/lineage-table/", {"pellet__sintering_temperature_c": 900}).json()
    by_list = api.get("/api/cells/", {"sintering_temperature_c": 900}).json()
    assert [r["code"] for r in at_900["results"]] == [r["code"] for r in by_list["results"]]
    row = next(r for r in at_900["results"] if r["code"] == study["full_spe"].code)
    assert row["pellet_sintering_temperature_c"] == 900
    assert row["lagp_batch_code"] == study["batch"].code
    assert row["spe_membrane_code"] == study["spe"].code
    assert row["electrode_disk_code"] == study["disks"][0].code
    assert list(row) == at_900["columns"]


def test_the_lineage_table_combines_row_and_ancestor_filters(api, study):
    params = {
        "pellet__sintering_temperature_c_min": 900,
        "notation": "NCM811",
        "spe_membrane__thickness_um_max": 20,
        "lagp_batch__q": study["batch"].code,
    }
    table = api.get("/api/lineage-table/", params).json()
    assert [row["code"] for row in table["results"]] == [study["full_spe"].code]


def test_the_lineage_table_as_csv_reads_into_pandas(api, study):
    response = api.get("/api/lineage-table/?pellet__sintering_temperature_c=900&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    frame = pd.read_csv(io.BytesIO(response.content))
    assert len(frame) == 6
    assert set(frame["pellet_sintering_temperature_c"]) == {900.0}
    assert frame.set_index("code").loc[study["full_spe"].code, "spe_membrane_thickness_um"] == 20
    empty = api.get("/api/lineage-table/?pellet__sintering_temperature_c=1111&format=csv")
    assert list(pd.read_csv(io.BytesIO(empty.content)).columns) == list(frame.columns)


def test_pellets_can_be_the_rows(api, study):
    table = api.get("/api/lineage-table/?root_kind=pellet&sintering_temperature_c=1000").json()
    assert table["count"] == 2
    assert {row["lagp_batch_code"] for row in table["results"]} == {study["batch"].code}


@pytest.mark.parametrize(
    "query, field",
    [
        ("root_kind=spaceship", "root_kind"),
        ("pellet__bogus=1", "pellet__bogus"),
        # A typo in a filter of the rows' own kind is refused too, not ignored (it would give
        # the whole table as if filtered).
        ("bogus=1", "bogus"),
        ("root_kind=pellet&sintering_temperatur_c=900", "sintering_temperatur_c"),
        ("pellet__sintering_temperature_c=hot", "pellet__sintering_temperature_c"),
        ("sintering_temperature_c=hot", "sintering_temperature_c"),
    ],
)
def test_bad_table_queries_are_named(api, study, query, field):
    response = api.get(f"/api/lineage-table/?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_an_ancestor_that_matches_nothing_gives_an_empty_table(api, study):
    table = api.get("/api/lineage-table/?lagp_batch__ancestor=RGT-9999").json()
    assert table["count"] == 0 and table["results"] == []


def test_ancestor_filters_that_join_and_deduplicate_work(api, study):
    # The cell filter `sintering_temperature_c` joins the layers and uses DISTINCT.
    table = api.get("/api/lineage-table/?cell__sintering_temperature_c=900").json()
    assert table["count"] == 0  # nothing is made from a cell
    pellets = api.get("/api/lineage-table/?root_kind=pellet&lagp_batch__x_al=0.5").json()
    assert pellets["count"] == 12
