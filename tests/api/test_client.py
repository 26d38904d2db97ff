"""lims.client against a real server (pytest-django's live_server) with the demo data."""

from __future__ import annotations

import pytest

from lims.api.tokens import token_rotate
from lims.client import ApiError, Client


@pytest.fixture
def lims(transactional_db, live_server, django_user_model):
    """A notebook's client; the data is committed so the server thread sees it."""
    from lims.demo import load_demo

    user = django_user_model.objects.create_user("nb", password="pw-nb-12345", is_staff=True)
    load_demo(user)
    return Client(live_server.url, token_rotate(user).key)


def test_cells_filtered_by_sintering_temperature_as_a_dataframe(lims):
    cells = lims.cells(sintering_temperature_c=900, page_size=2)  # three pages, all followed
    assert len(cells) == 6
    assert {"code", "notation", "active_mass_mg", "c_rate_currents_ma.0.1C"} <= set(cells.columns)
    assert lims.cells(sintering_temperature_c=950).empty
    pellets = lims.pellets(sintering_temperature_c_min=950)
    assert set(pellets["sintering_temperature_c"]) == {950.0, 1000.0}


def test_lineage_and_lineage_table_and_one_item(lims):
    full = lims.cells(notation="NCM811", test_temperature_c=40).sort_values("code")
    code = full["code"].iloc[0]
    up = lims.lineage(code, "ancestors")
    assert list(up.columns) == ["code", "kind", "summary", "depth"]
    assert "lagp_batch" in set(up["kind"])
    assert set(lims.lineage(code, "ancestors", depth=1)["depth"]) == {1}
    table = lims.lineage_table(pellet__sintering_temperature_c=900)
    assert len(table) == 6 and set(table["pellet_sintering_temperature_c"]) == {900.0}
    assert lims.get(code)["notation"] == full["notation"].iloc[0]
    assert len(lims.items(kind="pellet")) == 9


def test_errors_raise_with_the_body(lims):
    with pytest.raises(ApiError) as error:
        lims.get("CELL-9999")
    assert error.value.status == 404
    with pytest.raises(ApiError) as error:
        lims.pellets(sintering_temperature_c="hot")
    assert error.value.status == 400 and "sintering_temperature_c" in error.value.body
    with pytest.raises(ApiError) as error:
        Client(lims.base_url, "wrong").cells()
    assert error.value.status == 401
