"""lims.client against a real server (pytest-django's live_server) with the demo data."""

from __future__ import annotations

import pytest

from core.api.tokens import token_rotate
from lims.client import ApiError, Client
from tests.factories import join


@pytest.fixture
def lims(transactional_db, live_server, django_user_model):
    """A notebook's client; the data is committed so the server thread sees it."""
    from demo.records import load_demo

    user = django_user_model.objects.create_user("nb", password="pw-nb-12345", is_staff=True)
    join(user, "manager")
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
    assert len(lims.items(kind="pellet")) == 12


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


def test_upload_waits_for_the_result_and_cycling_returns_the_per_cycle_table(lims, tmp_path):
    from demo.synthetic.files import write_maccor_cycling

    cell = lims.cells(notation="Li|ILE/SPE/LAGP/ILE|NCM811").iloc[0]
    path = write_maccor_cycling(
        tmp_path / "cell.txt", n_cycles=30, rows_per_cycle=40, active_mass_mg=cell["active_mass_mg"]
    )
    measurement = lims.upload(cell["code"], path, technique="cycling")
    assert measurement["status"] == "done"
    per_cycle = lims.cycling(cell["code"])
    assert len(per_cycle) == 30
    assert per_cycle.loc[0, "discharge_mAh_g"] == pytest.approx(199, abs=0.5)
    series = lims.data(measurement["code"], every=10)
    assert {"time_s", "voltage_V", "current_mA"} <= set(series.columns)
    assert len(series) == 120  # 1200 rows, every 10th


def test_a_file_the_worker_cannot_read_raises_with_the_reason(lims, tmp_path):
    from lims.client import ProcessingFailed

    bad = tmp_path / "notes.txt"
    bad.write_text("not an instrument file\n")
    with pytest.raises(ProcessingFailed) as error:
        lims.upload("PEL-0003", bad, technique="eis")
    assert "unrecognised file format" in error.value.reason


def test_sets_made_together_answer_their_codes(lims):
    pellets = lims.create("pellet-sets", batch="lagp-0001", count=2, sintering_temperature_c=925)
    assert (pellets["count"], pellets["items"]) == (2, ["PEL-0013", "PEL-0014"])
    disks = lims.create("electrode-disks", coating="CAT-0001", count=1, active_loading_mg_cm2=3)
    assert (disks["count"], disks["items"]) == (1, ["ELD-0007"])
    table = lims.pellet_sets(batch="LAGP-0001")
    assert sorted(len(items) for items in table["items"]) == [2, 2, 2, 2, 6]
    pieces = lims.create("membrane-pieces", membrane="spe-0001", count=2, diameter_mm=16)
    assert (pieces["count"], pieces["items"]) == (2, ["SPEP-0005", "SPEP-0006"])
    assert pieces["membrane"] == "SPE-0001" and round(pieces["area_cm2"], 4) == 2.0106
    with pytest.raises(ApiError) as error:
        lims.create("pellet-sets", batch="LAGP-0001", count=2, sintering_temp=925)
    assert error.value.status == 400 and "sintering_temp" in error.value.body


def test_a_raw_file_downloads_with_the_token(lims, tmp_path):
    raw = tmp_path / "notes.txt"
    raw.write_bytes(b"not an instrument file\n\x00\xff")
    measurement = lims.upload("PEL-0003", raw, technique="eis", wait=False)
    assert lims.download(measurement["files"][0]["download"]) == raw.read_bytes()
