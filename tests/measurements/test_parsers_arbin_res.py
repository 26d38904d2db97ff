"""Arbin ``.res`` (MS Access database read with mdbtools) on a real file.

cellpy: jepegit/cellpy@c5d74b99b143 (MIT) testdata/data/20160805_test001_45_cc_01.res, an
Arbin BT2000 half cell (Si anode, MITS Pro 4.32), 18 cycles, 10 261 data points.
Expected values come from the file itself (``mdb-export`` output, read here with the csv
module) and from cellpy's reading of the same file.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess

import polars as pl
import pytest

from measurements import canonical as c
from measurements.analysis.cycling import per_cycle
from measurements.parsers import ParseError, arbin_res, check_options, detect, parse_file
from tests.instrument_files import instrument_file

ARBIN_RES = instrument_file("cellpy/20160805_test001_45_cc_01.res")
MASS_G = 0.00085283798  # Global_Table.MASS of the file (g); only scales mAh/g here

# cellpy 1.0.3 (in .venv-peers, pandas 2.3.3), run on 2026-11-30:
#   c = cellpy.get(ARBIN_RES, instrument="arbin_res", mass=0.85283798)
#   c.data.summary[["charge_capacity_absolute", "discharge_capacity_absolute"]]  # mAh
# cellpy takes each cycle's counters at the cycle's end; per_cycle adds up the charge and
# discharge steps only, so it leaves out what passed during steps it classes as rests
# (|I| < 1 % of the largest; here at most 2e-6 mAh a cycle): hence abs=5e-6 mAh.
CELLPY_CHARGE_MAH = {
    1: 1.6254059991,
    2: 1.6995637048,
    3: 1.7315078508,
    4: 1.5759776219,
    5: 1.5353032450,
    6: 1.5371575797,
    7: 1.5352308294,
    8: 1.5324288263,
    9: 1.5745402635,
    10: 1.5281252642,
    11: 1.5424941178,
    12: 1.5397495783,
    13: 1.5725305622,
    14: 1.5647490349,
    15: 1.5551636562,
    16: 1.5855858195,
    17: 1.5253623281,
    18: 0.0,
}
CELLPY_DISCHARGE_MAH = {
    1: 1.7550935294,
    2: 1.5674751104,
    3: 1.5857209475,
    4: 1.5173179639,
    5: 1.4711861439,
    6: 1.4707154471,
    7: 1.4705784169,
    8: 1.4651470781,
    9: 1.5091125154,
    10: 1.4632155850,
    11: 1.4778112545,
    12: 1.4757155700,
    13: 1.5074436708,
    14: 1.5028671964,
    15: 1.4917286980,
    16: 1.5262014416,
    17: 1.4648078184,
    18: 0.2393131556,
}


@pytest.fixture(autouse=True)
def _eager_celery_outside_integration():
    """No Celery, no Django: these are pure parser tests."""
    yield


@pytest.fixture(scope="module")
def parsed():
    return parse_file(ARBIN_RES)


@pytest.fixture(scope="module")
def exported() -> list[dict[str, str]]:
    """The data table as mdb-export writes it: the file's own values, as text."""
    out = subprocess.run(
        ["mdb-export", str(ARBIN_RES), "Channel_Normal_Table"],
        capture_output=True,
        check=True,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout.decode()
    return list(csv.DictReader(io.StringIO(out)))


def test_detected_by_the_jet_signature_whatever_the_name():
    assert detect(ARBIN_RES).name == "arbin_res"
    assert detect(ARBIN_RES.read_bytes()[:8192], "upload.bin").name == "arbin_res"


def test_every_row_and_column_is_the_file_s(parsed, exported):
    data = parsed.data
    assert parsed.kind == "cycling"
    assert data.height == len(exported) == 10261
    assert parsed.metadata["row_count"] == 10261
    assert data[c.TIME_S].to_list() == [float(r["Test_Time"]) for r in exported]
    assert data[c.VOLTAGE_V].to_list() == [float(r["Voltage"]) for r in exported]
    assert data[c.CURRENT_MA].to_list() == pytest.approx(
        [float(r["Current"]) * 1000 for r in exported], rel=1e-12
    )
    assert data[c.CYCLE].to_list() == [int(r["Cycle_Index"]) for r in exported]
    assert data[c.STEP].to_list() == [int(r["Step_Index"]) for r in exported]


def test_first_and_last_points(parsed):
    first, last = parsed.data.row(0, named=True), parsed.data.row(-1, named=True)
    # Data_Point 1: Test_Time 300.0104819316021, Voltage 3.0976174, Current 0, step 1, cycle 1
    assert first[c.TIME_S] == 300.0104819316021
    assert first[c.VOLTAGE_V] == pytest.approx(3.0976174)
    assert first[c.CURRENT_MA] == 0.0
    assert (first[c.CYCLE], first[c.STEP]) == (1, 1)
    # Data_Point 10261: 859077.2406335169 s, -0.00030420697 A, 0.2940689 V, step 10, cycle
    # 18, Discharge_Capacity 0.000239313155618 Ah, Discharge_Energy 8.5735231703e-05 Wh:
    # cycle 18 is one discharge step, so these are its counters since the step's start.
    assert last[c.TIME_S] == 859077.2406335169
    assert last[c.CURRENT_MA] == pytest.approx(-0.30420697)
    assert last[c.VOLTAGE_V] == pytest.approx(0.2940689)
    assert (last[c.CYCLE], last[c.STEP]) == (18, 10)
    assert last[c.STEP_CAPACITY_MAH] == pytest.approx(0.239313155618, rel=1e-9)
    assert last[c.STEP_ENERGY_MWH] == pytest.approx(0.085735231703, rel=1e-9)


def test_metadata_from_the_global_table(parsed):
    meta = parsed.metadata
    assert meta["parser"] == "arbin_res"
    assert meta["test_name"] == "20160805_sic006_45_cc_01-01-003"
    assert meta["schedule"] == "SiNODE\\24h_rest_3cyc_C20_100cyc_c10_MR.sdu"
    assert meta["channel"] == 96
    assert meta["cycle_count"] == 18
    # Start_DateTime 42587.67804398148 days after 1899-12-30
    assert meta["start_time"] == "2016-08-05 16:16:23"
    assert parsed.warnings == []


def test_step_capacity_restarts_at_each_step_and_cycle(parsed):
    data = parsed.data
    # Cycle 2, step 3 (discharge), last point 1846: Discharge_Capacity 0.001567475110416 Ah,
    # counted from 0 (the counters restart with the cycle).
    dis = data.filter((pl.col(c.CYCLE) == 2) & (pl.col(c.STEP) == 3))
    assert dis[c.STEP_CAPACITY_MAH].max() == pytest.approx(1.567475110416, rel=1e-12)
    # Cycle 2, step 6 (charge), last point 2251: Charge_Capacity 0.001699563699455 Ah, from
    # 2.664e-12 Ah at the end of step 5 (point 1879).
    chg = data.filter((pl.col(c.CYCLE) == 2) & (pl.col(c.STEP) == 6))
    assert chg[c.STEP_CAPACITY_MAH].max() == pytest.approx(1.699563699455 - 2.664e-9, rel=1e-12)
    assert data[c.STEP_CAPACITY_MAH].min() >= 0


def test_per_cycle_capacities_agree_with_cellpy(parsed):
    table = per_cycle(parsed.data, MASS_G)
    assert table["cycle"].to_list() == list(range(1, 19))
    for row in table.iter_rows(named=True):
        cycle = row["cycle"]
        assert row["charge_mAh"] == pytest.approx(CELLPY_CHARGE_MAH[cycle], abs=5e-6), cycle
        assert row["discharge_mAh"] == pytest.approx(CELLPY_DISCHARGE_MAH[cycle], abs=5e-6), cycle
    # Hand check of one cycle from the raw rows (see the test above): cycle 2.
    second = table.row(1, named=True)
    assert second["discharge_mAh"] == pytest.approx(1.567475110416, rel=1e-9)
    assert second["coulombic_efficiency"] == pytest.approx(1.567475110416 / 1.699563697, rel=1e-8)


def test_without_mdbtools_the_message_says_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ParseError, match="apt-get install mdbtools"):
        parse_file(ARBIN_RES)


def test_truncated_database_is_refused(tmp_path):
    path = tmp_path / "cut.res"
    path.write_bytes(ARBIN_RES.read_bytes()[:700_000])
    with pytest.raises(ParseError, match="Arbin .res database .*damaged or truncated"):
        parse_file(path)


def test_an_access_database_without_arbin_tables_is_named():
    with pytest.raises(ParseError, match="not an Arbin .res file: it has no Channel_Normal_Table"):
        arbin_res._check_tables(["MSysObjects", "Samples"])


def test_test_id_option(tmp_path):
    assert check_options("arbin_res", {"test_id": 1}) == []
    assert check_options("arbin_res", {"test_id": "one"})
    assert parse_file(ARBIN_RES, options={"test_id": 1}).data.height == 10261
    with pytest.raises(
        ParseError, match="test_id 2 is not in this Arbin .res file; it holds test 1"
    ):
        parse_file(ARBIN_RES, options={"test_id": 2})


def test_two_tests_in_one_file_need_a_choice():
    data = pl.DataFrame({"Test_ID": [1, 1, 2]})
    tests = pl.DataFrame({"Test_ID": [1, 2], "Test_Name": ["first", "second"]})
    with pytest.raises(ParseError, match="holds 2 tests: 1 \\(first\\); 2 \\(second\\)"):
        arbin_res._choose_test(data, tests, None)
    assert arbin_res._choose_test(data, tests, 2) == 2


def test_counter_restarts_within_a_step_are_counted_from_zero():
    # A resumed test: the charge counter restarts inside step 2.
    frame = pl.DataFrame({"q": [0.0, 1.0, 2.0, 0.5, 1.5], "step": [1, 2, 2, 2, 2]})
    starts = pl.col("step").ne_missing(pl.col("step").shift(1))
    out = frame.select(arbin_res._counter_since_step_start(pl.col("q"), starts))
    assert out.to_series().to_list() == [0.0, 1.0, 2.0, 2.5, 3.5]


def test_missing_data_points_are_reported(parsed):
    frame = pl.DataFrame({"Data_Point": [1, 2, 5], "Test_Time": [0.0, 1.0, 4.0]})
    assert "2 data points are missing" in arbin_res._warnings(frame)[0]
