"""Cycles from the direction of the current when the instrument's cycle counter never advances
(or the file has none), and the rule used carried into the parsed metadata and the result.

cellpy/maccor_001.txt: jepegit/cellpy@c5d74b99b143 (MIT), testdata/data/maccor_001.txt; see
tests/data/instrument-files/INDEX.md. An M50 cell's validation test: Cyc# is 0 on every row
while the programme runs five discharges and four CC+CV charges.
"""

from __future__ import annotations

import polars as pl
import pytest

from measurements import canonical as c
from measurements import compute
from measurements.analysis import cycling
from measurements.parsers import parse_file
from tests.instrument_files import instrument_file

MACCOR_001 = instrument_file("cellpy/maccor_001.txt")
MACCOR_THREE = instrument_file("cellpy/maccor_three.txt")

# Counted by hand from the file (awk '{print $2, $3, $10}' | uniq -c): the runs of Step with
# their State, every one in Cyc# 0:
#   1 R, 2 D, 3 R, 4 C, 5 C, 6 R, 7 D, 8 R, 9 C, 10 C, 11 R, 12 D, 13 R, 14 C, 15 C, 16 R,
#   17 D, 18 R, 19 C, 20 C, 21 R, 22 D, 23 R, 24 O
# A cycle is a charge followed by a discharge: the first discharge stands alone.
HAND_CYCLES = {
    1: ((), (2,)),
    2: ((4, 5), (7,)),
    3: ((9, 10), (12,)),
    4: ((14, 15), (17,)),
    5: ((19, 20), (22,)),
}


def _step_capacities_mah(path) -> dict[int, float]:
    """Last Amp-hr of each step, mAh, read from the raw rows (Amp-hr resets at every step in
    this file: steps 5, 10, 15, 20 start again from 0.00001 after their CC step)."""
    last: dict[int, float] = {}
    with open(path, encoding="latin-1") as fh:
        for number, line in enumerate(fh, start=1):
            if number <= 4:
                continue  # 3 preamble lines and the header
            fields = line.split("\t")
            last[int(fields[2])] = float(fields[5]) * 1000.0
    return last


def test_parsed_metadata_names_the_rule():
    assert parse_file(MACCOR_001).metadata["cycle_rule"] == cycling.RULE_STUCK_COUNTER
    assert parse_file(MACCOR_THREE).metadata["cycle_rule"] == cycling.RULE_COUNTER


def test_maccor_001_cycles_from_current_direction_match_the_hand_count():
    data = parse_file(MACCOR_001).data
    assert data[c.CYCLE].unique().to_list() == [0]
    outcome = compute.compute("cycling", [("m.txt", data)], ["cycling"], {"active_mass_mg": 1e3})
    table = outcome.per_cycle
    step_q = _step_capacities_mah(MACCOR_001)
    assert table["cycle"].to_list() == list(HAND_CYCLES)
    for row in table.iter_rows(named=True):
        charge_steps, discharge_steps = HAND_CYCLES[row["cycle"]]
        assert row["charge_mAh"] == pytest.approx(sum(step_q[s] for s in charge_steps), abs=1e-9)
        assert row["discharge_mAh"] == pytest.approx(
            sum(step_q[s] for s in discharge_steps), abs=1e-9
        )
    # The same numbers written out: cycle 2 charges 3368.71 + 1153.88 mAh, discharges 4544.03.
    assert table.row(1, named=True)["charge_mAh"] == pytest.approx(4522.59)
    assert table.row(1, named=True)["discharge_mAh"] == pytest.approx(4544.03)

    summary = outcome.results[0]
    assert summary.kind == "cycling_summary"
    assert summary.values["cycle_rule"] == cycling.RULE_STUCK_COUNTER
    assert summary.inputs["cycle_rule"] == cycling.RULE_STUCK_COUNTER
    assert "never advances" in summary.values["cycle_rule"]
    assert summary.values["n_cycles"] == 5


def test_without_a_cycle_column_the_same_cycles_and_its_own_rule():
    data = parse_file(MACCOR_001).data.with_columns(pl.lit(None, pl.Int64).alias(c.CYCLE))
    table, rule = cycling.per_cycle_with_rule(data, 1.0)
    assert rule == cycling.RULE_NO_COUNTER
    assert cycling.cycle_rule(data) == cycling.RULE_NO_COUNTER
    assert table.height == 5
    assert table["charge_mAh"][1] == pytest.approx(4522.59)


def test_an_advancing_counter_is_kept():
    data = parse_file(MACCOR_THREE).data
    table, rule = cycling.per_cycle_with_rule(data, 1.0)
    assert rule == cycling.RULE_COUNTER
    assert table.height == 15


def _one_cycle(directions: list[int]) -> pl.DataFrame:
    """Steps of 10 points a minute apart at +1 mA, -1 mA or rest (0), all in cycle 0."""
    signs = [sign for sign in directions for _ in range(10)]
    steps = [step for step, _ in enumerate(directions, start=1) for _ in range(10)]
    return pl.DataFrame(
        {
            c.TIME_S: [60.0 * i for i in range(len(signs))],
            c.VOLTAGE_V: [3.5 + 0.1 * s for s in signs],
            c.CURRENT_MA: [float(s) for s in signs],
            c.CYCLE: pl.Series([0] * len(signs), dtype=pl.Int64),
            c.STEP: pl.Series(steps, dtype=pl.Int64),
        }
    )


@pytest.mark.parametrize(
    ("directions", "rule", "cycles"),
    [
        # One charge and one discharge fit in one cycle: the counter is believed.
        ([1, 0, -1, 0], cycling.RULE_COUNTER, 1),
        ([-1, 0, 1], cycling.RULE_COUNTER, 1),
        # CC then CV charge is one half: still one cycle.
        ([1, 1, 0, -1], cycling.RULE_COUNTER, 1),
        # Three halves cannot be one cycle.
        ([1, -1, 1], cycling.RULE_STUCK_COUNTER, 2),
        ([-1, 0, 1, 0, -1, 0, 1, -1], cycling.RULE_STUCK_COUNTER, 3),
    ],
)
def test_rule_on_a_single_counter_value(directions, rule, cycles):
    table, found = cycling.per_cycle_with_rule(_one_cycle(directions), 1.0)
    assert found == rule
    assert table.height == cycles
