"""Neware ``.nda`` (binary, before ``.ndax``) on real files, and the string-inference switch.

newarenda: d-cogswell/NewareNDA@d895eb23eb7e (BSD-3-Clause) tests/nda/:
- ``github/Issue72/TestFile.nda``: BTS 9.1, nda version 130, 6 670 records, discharge,
  CC-CV charge, discharge, CC-CV charge of a ~5.8 Ah cell, with an aux temperature T1;
- ``neware_reader/new_nda_file.nda``: nda version 29 (BTS 7), 439 records, µAh-scale steps.
"""

from __future__ import annotations

import struct

import numpy as np
import polars as pl
import pytest

from measurements import canonical as c
from measurements.analysis.cycling import per_cycle
from measurements.parsers import ParseError, detect, neware_ndax, parse_file
from tests.instrument_files import instrument_file

BTS91 = instrument_file("newarenda/TestFile.nda")
V29 = instrument_file("newarenda/new_nda_file.nda")
NDAX = instrument_file("cellpy/20260302_IFE_BTS85_2_9_8_1.ndax")

# navani 0.1.22 (in .venv-peers, NewareNDA 2026.6.11, pandas 2.3.3), run on 2026-11-30:
#   navani.echem.cycle_summary(navani.echem.echem_file_loader(BTS91))
# full cycle 1: charge 5655.08789062, discharge 3790.16796875; 2: 5659.85644531, 5806.64599609.
# navani pairs a charge with the discharge before it and takes the largest value of the
# capacity column in each half cycle: its charge is the CC step only, since Neware's counter
# restarts at 0 for the CV step (155.937119 mAh in cycle 2, 155.234100 in cycle 3).
NAVANI_DISCHARGE_MAH = (3790.16796875, 5806.64599609)
NAVANI_CC_CHARGE_MAH = (5655.08789062, 5659.85644531)
CV_STEP_MAH = (155.937119, 155.234100)  # step 5 and step 10 counters at their ends


@pytest.fixture(autouse=True)
def _eager_celery_outside_integration():
    """No Celery, no Django: these are pure parser tests."""
    yield


def _raw(path, **kwargs):
    from NewareNDA.NewareNDA import read_nda

    return read_nda(str(path), software_cycle_number=True, **kwargs)


def test_detected_by_the_neware_signature():
    assert detect(BTS91).name == "neware_nda"
    assert detect(V29.read_bytes()[:8192], "upload").name == "neware_nda"


def test_bts91_rows_are_the_file_s():
    result = parse_file(BTS91)
    data = result.data
    assert result.kind == "cycling"
    assert result.metadata["nda_version"] == 130
    assert data.height == result.metadata["row_count"] == 6670
    first, last = data.row(0, named=True), data.row(-1, named=True)
    # Record 1: rest at 3.881992 V; record 6670: rest at 4.158703 V in step 11 of cycle 3.
    assert first[c.VOLTAGE_V] == pytest.approx(3.881992, rel=1e-6)
    assert first[c.CURRENT_MA] == 0.0
    assert (last[c.CYCLE], last[c.STEP]) == (3, 11)
    assert last[c.VOLTAGE_V] == pytest.approx(4.158703, rel=1e-6)
    # Record 4075 (end of the second discharge, step 7): -3000.148682 mA, 5806.645996 mAh.
    end = data.filter(pl.col(c.STEP) == 7).row(-1, named=True)
    assert end[c.CURRENT_MA] == pytest.approx(-3000.148682, rel=1e-6)
    assert end[c.STEP_CAPACITY_MAH] == pytest.approx(5806.645996, rel=1e-6)
    assert data[c.TIME_S].diff().drop_nulls().min() >= 0
    # One record's timestamp goes back: time is built from step times, and the user is told.
    assert result.metadata["time_source"] == "sum of step times"
    assert any("timestamps go backwards" in w for w in result.warnings)


def test_version_29_file():
    result = parse_file(V29)
    data = result.data
    assert result.metadata["nda_version"] == 29
    assert data.height == 439
    assert data[c.CYCLE].unique().sort().to_list() == [1, 2]
    assert data[c.STEP].unique().sort().to_list() == [1, 2, 3, 4, 5, 6]
    assert result.metadata["time_source"] == "Timestamp"
    # Record 1: -0.0911 V at rest; the first discharge step ends at 6.5e-5 mAh.
    assert data.row(0, named=True)[c.VOLTAGE_V] == pytest.approx(-0.0911, rel=1e-5)
    raw = _raw(V29)
    assert data[c.VOLTAGE_V].to_list() == pytest.approx(raw["Voltage"].astype(float).tolist())


def test_per_cycle_capacities_against_navani_and_the_current_integral():
    result = parse_file(BTS91)
    table = per_cycle(result.data, 1.0)
    assert table["cycle"].to_list() == [1, 2, 3]
    rows = table.rows_by_key("cycle", named=True, unique=True)
    assert rows[1]["discharge_mAh"] == pytest.approx(NAVANI_DISCHARGE_MAH[0], rel=1e-9)
    assert rows[2]["discharge_mAh"] == pytest.approx(NAVANI_DISCHARGE_MAH[1], rel=1e-9)
    # Our charge is CC + CV (the whole charge half cycle), navani's the CC step only.
    for cycle, navani_cc, cv in zip((2, 3), NAVANI_CC_CHARGE_MAH, CV_STEP_MAH, strict=True):
        assert rows[cycle]["charge_mAh"] == pytest.approx(navani_cc + cv, rel=1e-7)
    # Independent of any counter: the trapezoid integral of |I| dt over the raw records of
    # the CC + CV steps of cycle 2 (steps 4 and 5), and of the discharge (step 7).
    raw = _raw(BTS91)

    def integral(*steps):
        total = 0.0
        for step in steps:
            rows_ = raw[raw["Step"] == step]
            t, i = rows_["Time"].to_numpy(float), rows_["Current(mA)"].to_numpy(float)
            total += float(np.trapezoid(np.abs(i), t)) / 3600.0
        return total

    assert rows[2]["charge_mAh"] == pytest.approx(integral(4, 5), rel=1e-4)
    assert rows[2]["discharge_mAh"] == pytest.approx(integral(7), rel=1e-4)
    # Coulombic efficiency of cycle 2 = 5806.645996 / (5655.087891 + 155.937119)
    assert rows[2]["coulombic_efficiency"] == pytest.approx(5806.645996 / 5811.02501, rel=1e-6)


def test_reading_without_string_inference_changes_nothing():
    from NewareNDA.NewareNDAx import read_ndax

    for read, path in ((_raw, BTS91), (_raw, V29)):
        plain = pl.from_pandas(read(path))
        with neware_ndax.object_strings():
            fast = pl.from_pandas(read(path))
        assert fast.equals(plain)
    plain = pl.from_pandas(read_ndax(str(NDAX), software_cycle_number=True))
    with neware_ndax.object_strings():
        fast = pl.from_pandas(read_ndax(str(NDAX), software_cycle_number=True))
    assert fast.equals(plain)


def test_unsupported_version_is_named(tmp_path):
    data = bytearray(V29.read_bytes())
    data[14] = 77
    path = tmp_path / "v77.nda"
    path.write_bytes(bytes(data))
    with pytest.raises(ParseError, match="format version 77 cannot be read"):
        parse_file(path)
    assert struct.unpack("<B", V29.read_bytes()[14:15]) == (29,)


def test_damaged_nda_raises_only_parse_errors(tmp_path):
    for source in (BTS91, V29):
        data = source.read_bytes()
        for index, cut in enumerate((8, 20, 600)):
            path = tmp_path / f"{source.stem}-{index}.nda"
            path.write_bytes(data[:cut])
            with pytest.raises(ParseError):
                parse_file(path)
