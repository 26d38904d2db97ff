"""BioLogic .mpr files recorded without an I/mA column: current and capacities derived from
dq/mA.h (or (Q-Qo)/mA.h) and time, checked against navani on the same real file.

navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr: the-grey-group/navani@922ffe190ae7
(MIT), Example_data/; see tests/data/instrument-files/INDEX.md. GCPL of a NaCoO2 cell at C/24,
2.0-3.8 V, data module v3, columns flags, Ns, time/s, dq/mA.h, (Q-Qo)/mA.h, control/V/mA,
Ewe/V, I Range, Q charge/discharge/mA.h, half cycle, P/W: no I/mA.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from measurements import canonical as c
from measurements import compute
from measurements.analysis import cycling
from measurements.parsers import ParseError, parse_file
from measurements.parsers import _biologic as bio
from measurements.parsers._mpr import read_mpr
from tests.instrument_files import instrument_file

NAVANI_MPR = instrument_file("navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr")

# navani 0.1.22 (with datalab-org-galvani 0.6.0), run on this file on 2026-11-30:
#   df = navani.echem.echem_file_loader(path); s = navani.echem.cycle_summary(df)
#   s["Charge Capacity"].dropna(), s["Discharge Capacity"].dropna()   (mAh)
# navani counts a cycle as discharge then charge (its full cycle 1 = the first discharge and
# the first charge); this file's own counter (half cycle // 2) pairs each charge with the
# discharge after it, so the same half-cycle capacities sit one cycle apart. navani reads
# |Q charge/discharge/mA.h|, we read (Q-Qo)/mA.h since each change of Ns: the two counters
# agree to ~3e-8 relative, hence rel=1e-6.
NAVANI_CHARGE_MAH = [
    0.9867813600429652,
    0.9370903700322882,
    0.9419401960654015,
    0.9479331969978159,
    0.9516887732554287,
    0.9558864159155701,
]
NAVANI_DISCHARGE_MAH = [
    0.20652871427545638,
    0.8528549910909516,
    0.8763298205900488,
    0.8746780738951169,
    0.8766560301086309,
    0.8786127296344355,
    0.8794916296882441,
]


def _records_frame(drop: tuple[str, ...] = ()) -> pl.DataFrame:
    records = read_mpr(NAVANI_MPR.read_bytes()).records
    names = [n for n in records.dtype.names if n in bio.USEFUL and n not in drop]
    return pl.DataFrame({n: np.asarray(records[n], dtype=np.float64) for n in names})


def test_derived_current_has_no_null_and_matches_dq_over_dt():
    result = parse_file(NAVANI_MPR)
    data = result.data
    raw = _records_frame()
    assert data.height == raw.height == 46102
    assert data[c.CURRENT_MA].null_count() == 0
    # Point 0 has no interval before it: it takes the next point's current (a rest: 0).
    assert raw["dq/mA.h"][1] == 0.0 and data[c.CURRENT_MA][0] == 0.0
    # Every other point: dq * 3600 / dt, from the file's own columns.
    dt = raw["time/s"].diff()[1:]
    expected = (raw["dq/mA.h"][1:] * 3600.0 / dt).to_numpy()
    np.testing.assert_allclose(data[c.CURRENT_MA][1:].to_numpy(), expected, rtol=1e-12)
    assert "no I/mA column" in result.warnings[0]


def test_per_cycle_capacities_match_navani():
    data = parse_file(NAVANI_MPR).data
    outcome = compute.compute("cycling", [("C09.mpr", data)], ["cycling"], {"active_mass_mg": 1.0})
    table = outcome.per_cycle
    assert table["cycle"].to_list() == [1, 2, 3, 4, 5, 6, 7]
    # Cycle 1 is the first discharge alone; cycles 2-7 are charge then discharge.
    assert table["charge_mAh"].to_list() == pytest.approx([0.0, *NAVANI_CHARGE_MAH], rel=1e-6)
    assert table["discharge_mAh"].to_list() == pytest.approx(NAVANI_DISCHARGE_MAH, rel=1e-6)
    summary = outcome.results[0]
    assert summary.values["cycle_rule"] == cycling.RULE_COUNTER
    # CE of cycle 2 = first full discharge / first charge.
    assert table["coulombic_efficiency"][1] == pytest.approx(
        NAVANI_DISCHARGE_MAH[1] / NAVANI_CHARGE_MAH[0], rel=1e-6
    )


def test_current_from_q_minus_qo_when_dq_is_absent_too():
    """A file with (Q-Qo)/mA.h but neither I/mA nor dq/mA.h (the same real records with the dq
    column left out): current from the change of (Q-Qo), same per-cycle capacities."""
    full = bio.to_canonical(_records_frame(), None)
    without = bio.to_canonical(_records_frame(drop=("dq/mA.h",)), None)
    assert without.used[c.CURRENT_MA] == "d((Q-Qo)/mA.h) / d(time/s)"
    assert without.data[c.CURRENT_MA].null_count() == 0
    np.testing.assert_allclose(
        without.data[c.CURRENT_MA].to_numpy(), full.data[c.CURRENT_MA].to_numpy(), atol=1e-9
    )
    table = cycling.per_cycle(without.data, 0.001)
    assert table["discharge_mAh"].to_list() == pytest.approx(NAVANI_DISCHARGE_MAH, rel=1e-6)
    assert table["charge_mAh"].to_list()[1:] == pytest.approx(NAVANI_CHARGE_MAH, rel=1e-6)


def test_charge_passed_in_zero_time_is_refused_naming_the_point():
    frame = pl.DataFrame(
        {
            "time/s": [0.0, 10.0, 10.0, 20.0],
            "Ewe/V": [3.0, 3.1, 3.1, 3.2],
            "dq/mA.h": [0.0, 0.001, 0.001, 0.001],
            "Ns": [0.0, 1.0, 2.0, 3.0],
        }
    )
    with pytest.raises(ParseError, match=r"data point 3: charge passed in zero time"):
        bio.to_canonical(frame, None)


def test_zero_length_interval_takes_its_steps_neighbour():
    frame = pl.DataFrame(
        {
            "time/s": [0.0, 10.0, 10.0, 20.0],
            "Ewe/V": [3.0, 3.1, 3.1, 3.2],
            "dq/mA.h": [0.0, 0.001, 0.0, 0.001],
            "Ns": [1.0, 1.0, 1.0, 1.0],
        }
    )
    current = bio.to_canonical(frame, None).data[c.CURRENT_MA].to_list()
    # 0.001 mAh in 10 s = 0.36 mA; the repeated point takes the next interval's current.
    assert current == pytest.approx([0.36, 0.36, 0.36, 0.36])
