"""Cycling metrics against the paper's Li|SPE/LAGP|NCM811 cell: 217/199 mAh/g in the first
cycle, 82.7 % retention after 400 cycles, mean CE 99.96 %, 153 mAh/g at 0.5C.

The real Maccor export is cellpy/maccor_three.txt from jepegit/cellpy@c5d74b99b143 (MIT), see
tests/data/instrument-files/INDEX.md, read with a tiny local reader (parsers are tested apart).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from demo.synthetic import spectra as synthetic
from measurements.analysis import AnalysisError, cycling
from tests.instrument_files import ROOT as INSTRUMENT_FILES

MASS_G = synthetic.PAPER_ACTIVE_MASS_G
ROWS_PER_CYCLE = 48  # _frame: 20 charge + 4 rest + 20 discharge + 4 rest


def _frame(programme: synthetic.CyclingProgramme, **kwargs) -> pl.DataFrame:
    # Few points per step keep the 400-cycle frame small; the trapezoid is exact for CC steps.
    return synthetic.cycling_frame(programme, points_per_step=20, rest_points=4, **kwargs)


@pytest.fixture(scope="module")
def paper_programme() -> synthetic.CyclingProgramme:
    return synthetic.full_cell_programme(400)


@pytest.fixture(scope="module")
def paper_cycles(paper_programme) -> pl.DataFrame:
    return cycling.per_cycle(_frame(paper_programme), MASS_G)


def test_per_cycle_has_one_row_per_cycle_with_documented_columns(paper_cycles):
    assert paper_cycles.columns == list(cycling.PER_CYCLE_COLUMNS)
    assert paper_cycles["cycle"].to_list() == list(range(1, 401))


def test_summary_reproduces_paper_numbers(paper_cycles):
    summary = cycling.summarise(paper_cycles)
    assert summary.n_cycles == 400
    assert summary.first_charge_mAh_g == pytest.approx(217.0, abs=0.05)
    assert summary.first_discharge_mAh_g == pytest.approx(199.0, abs=0.05)
    assert summary.first_ce_pct == pytest.approx(100 * 199 / 217, abs=0.01)
    assert summary.retention_pct == pytest.approx(82.7, abs=0.05)
    assert summary.mean_ce_pct == pytest.approx(99.96, abs=0.005)
    assert summary.ce_range == (2, 400)
    assert summary.cycle_below_threshold is None


def test_c_rate_detected_from_discharge_current(paper_cycles):
    rates = paper_cycles["c_rate"].to_numpy()
    assert np.all(rates[:2] == 0.1)  # two formation cycles
    assert np.all(rates[2:] == 0.2)


def test_mean_voltages_and_energy_are_consistent(paper_cycles):
    first = paper_cycles.row(0, named=True)
    assert 3.0 < first["mean_discharge_voltage_V"] < first["mean_charge_voltage_V"] < 4.3
    assert first["discharge_energy_mWh"] == pytest.approx(
        first["discharge_mAh"] * first["mean_discharge_voltage_V"]
    )
    # 0.1C charge of 217 mAh/g takes 217 / 20 h, discharge 199 / 20 h, plus two 10 min rests.
    assert first["duration_h"] == pytest.approx((217 + 199) / 20 + 2 * 600 / 3600, rel=1e-6)


@pytest.mark.parametrize(
    "variant",
    [
        {"cycle_counter": False},
        {"cycle_counter": False, "step_counter": False},
        {"step_capacity": True},
    ],
    ids=["no-cycle-counter", "no-counters", "instrument-step-capacity"],
)
def test_same_result_without_counters_or_from_instrument_capacity(
    paper_programme, paper_cycles, variant
):
    other = cycling.per_cycle(_frame(paper_programme, **variant), MASS_G)
    assert other["cycle"].to_list() == paper_cycles["cycle"].to_list()
    for column in ("charge_mAh_g", "discharge_mAh_g", "coulombic_efficiency", "c_rate"):
        np.testing.assert_allclose(other[column], paper_cycles[column], rtol=1e-6)


@pytest.mark.parametrize(
    "variant", [{}, {"cycle_counter": False}, {"cycle_counter": False, "step_counter": False}]
)
def test_one_point_with_wrong_current_sign_does_not_shift_cycles(paper_programme, variant):
    clean = _frame(paper_programme, **variant)
    glitch_row = 9 * ROWS_PER_CYCLE + 24 + 10  # row 10 of cycle 10's discharge step
    assert clean[glitch_row, "current_mA"] < 0
    glitched = synthetic.flip_current_sign(clean, [glitch_row])
    expected = cycling.per_cycle(clean, MASS_G)
    got = cycling.per_cycle(glitched, MASS_G)
    assert got["cycle"].to_list() == expected["cycle"].to_list()
    np.testing.assert_allclose(got["discharge_mAh_g"], expected["discharge_mAh_g"], rtol=1e-9)
    np.testing.assert_allclose(got["charge_mAh_g"], expected["charge_mAh_g"], rtol=1e-9)
    assert cycling.summarise(got).retention_pct == pytest.approx(82.7, abs=0.05)


def test_counter_carried_into_the_next_charge_step_is_counted_once(paper_programme):
    # Maccor's Amp-hr runs on from a CC charge step into the CV step after it.
    frame = _frame(paper_programme, step_capacity=True)
    local_row = pl.int_range(pl.len()) % ROWS_PER_CYCLE
    split = frame.with_columns(
        pl.when((pl.col("step") == 1) & (local_row >= 15))
        .then(9)
        .otherwise(pl.col("step"))
        .alias("step")
    )
    assert split["step"].unique().sort().to_list() == [1, 2, 3, 4, 9]
    got = cycling.per_cycle(split, MASS_G)
    np.testing.assert_allclose(got["charge_mAh_g"], paper_programme.charge_mAh_g, rtol=1e-9)


def _read_maccor_text(path: Path) -> pl.DataFrame:
    """Canonical frame from a Maccor text export with mAmp-hr/mAmps/mV columns."""
    lines = [line for line in path.read_text(encoding="latin-1").splitlines() if line.strip()]
    header = lines[2].split("\t")
    rows = [line.split("\t") for line in lines[3:]]
    col = {name: [row[header.index(name)] for row in rows] for name in header}

    def seconds(text: str) -> float:
        days, clock = text.strip().split("d")
        h, m, s = clock.strip().split(":")
        return int(days) * 86400 + int(h) * 3600 + int(m) * 60 + float(s)

    return pl.DataFrame(
        {
            "time_s": [seconds(t) for t in col["TestTime"]],
            "voltage_V": [float(v) / 1000 for v in col["Volts"]],
            "current_mA": [float(i) for i in col["mAmps"]],
            "cycle": [int(v) for v in col["Cyc#"]],
            "step": [int(v) for v in col["Step"]],
            "step_capacity_mAh": [float(q) for q in col["mAmp-hr"]],
            "step_energy_mWh": [float(e) for e in col["mWatt-hr"]],
        }
    )


def test_real_maccor_export_counter_agrees_with_integrated_current():
    frame = _read_maccor_text(INSTRUMENT_FILES / "cellpy" / "maccor_three.txt")
    from_counter = cycling.per_cycle(frame, 0.01)
    integrated = cycling.per_cycle(
        frame.with_columns(pl.lit(None, pl.Float64).alias("step_capacity_mAh")), 0.01
    )
    assert from_counter.height == frame["cycle"].n_unique()
    for column in ("charge_mAh", "discharge_mAh"):
        np.testing.assert_allclose(from_counter[column], integrated[column], rtol=0.005)
    ce = from_counter["coulombic_efficiency"].to_numpy()
    assert np.all((ce > 0.9) & (ce < 1.0))


def test_cycle_below_threshold_is_the_first_cycle_under_80_percent():
    programme = synthetic.full_cell_programme(200, retention_last_vs_first=0.7)
    summary = cycling.summarise(cycling.per_cycle(_frame(programme), MASS_G))
    expected = 1 + int(np.argmax(programme.discharge_mAh_g < 0.8 * 199.0))
    assert summary.cycle_below_threshold == expected


def test_summary_reference_cycle_and_ce_range_are_honoured(paper_cycles):
    summary = cycling.summarise(paper_cycles, reference_cycle=3, ce_range=(3, 100))
    assert summary.reference_discharge_mAh_g == pytest.approx(192.0, abs=0.05)
    assert summary.retention_pct == pytest.approx(100 * 0.827 * 199 / 192, abs=0.05)
    assert summary.ce_range == (3, 100)
    assert summary.mean_ce_pct == pytest.approx(99.96, abs=0.005)


def test_rate_table_reports_paper_capacity_at_half_c():
    table = cycling.rate_table(cycling.per_cycle(_frame(synthetic.rate_test_programme()), MASS_G))
    assert table["c_rate"].to_list() == [0.1, 0.2, 0.5, 1.0]
    assert table["n_cycles"].to_list() == [5, 5, 5, 5]
    assert table["first_cycle"].to_list() == [1, 6, 11, 16]
    assert table["last_cycle"].to_list() == [5, 10, 15, 20]
    half_c = table.filter(pl.col("c_rate") == 0.5)["mean_discharge_mAh_g"].item()
    assert half_c == pytest.approx(153.0, abs=0.05)


def test_c_rate_snaps_when_the_weighed_mass_differs_from_the_nominal_one():
    frame = _frame(synthetic.rate_test_programme())
    table = cycling.rate_table(cycling.per_cycle(frame, MASS_G * 1.04))
    assert table["c_rate"].to_list() == [0.1, 0.2, 0.5, 1.0]


def test_unusual_c_rate_is_rounded_to_two_significant_figures():
    assert cycling.snap_c_rates(np.array([0.1, 0.0731, 0.52, 1.7])).tolist() == [
        0.1,
        0.073,
        0.5,
        1.7,
    ]


def test_summary_serialises_to_plain_json(paper_cycles):
    data = json.loads(json.dumps(cycling.summarise(paper_cycles).to_dict(), allow_nan=False))
    assert data["algorithm_version"] == cycling.ALGORITHM_VERSION
    assert data["ce_range"] == [2, 400]


def test_missing_column_is_named(paper_programme):
    frame = _frame(paper_programme).drop("current_mA")
    with pytest.raises(AnalysisError, match="column 'current_mA' missing"):
        cycling.per_cycle(frame, MASS_G)


@pytest.mark.parametrize("mass", [0.0, -1.0, float("nan")])
def test_active_mass_must_be_positive(paper_programme, mass):
    with pytest.raises(AnalysisError, match="active_mass_g must be a positive number"):
        cycling.per_cycle(_frame(paper_programme), mass)


def test_non_finite_current_is_rejected(paper_programme):
    frame = _frame(paper_programme).with_columns(
        pl.when(pl.int_range(pl.len()) == 5)
        .then(float("nan"))
        .otherwise(pl.col("current_mA"))
        .alias("current_mA")
    )
    with pytest.raises(AnalysisError, match="column 'current_mA' has null or non-finite"):
        cycling.per_cycle(frame, MASS_G)


def test_time_going_backwards_is_rejected(paper_programme):
    frame = _frame(paper_programme)
    times = frame["time_s"].to_numpy().copy()
    times[100] = times[99] - 60
    with pytest.raises(AnalysisError, match="row 100 goes back in time"):
        cycling.per_cycle(frame.with_columns(pl.Series("time_s", times)), MASS_G)


def test_empty_frame_is_rejected():
    empty = pl.DataFrame(
        schema={"time_s": pl.Float64, "voltage_V": pl.Float64, "current_mA": pl.Float64}
    )
    with pytest.raises(AnalysisError, match="at least 2 rows, got 0"):
        cycling.per_cycle(empty, MASS_G)


def test_summary_of_unknown_reference_cycle_is_rejected(paper_cycles):
    with pytest.raises(AnalysisError, match="cycle 999 not in the per-cycle table"):
        cycling.summarise(paper_cycles, reference_cycle=999)
