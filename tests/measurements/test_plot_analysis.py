"""The science behind the measurement plots, without the database: thinning that keeps each
step's ends and extremes, dQ/dV against analytic and hand calculations, and voltage curves of
single cycles that end where the per-cycle table says."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from scipy.ndimage import gaussian_filter1d

from demo.synthetic import spectra as syn
from demo.synthetic.files import write_maccor_cycling
from measurements import canonical as c
from measurements.analysis import AnalysisError, cycling, dqdv, thinning
from measurements.parsers import parse_file
from measurements.plot_payload import PlotInputError, choose_cycles, default_cycles
from tests.instrument_files import instrument_file

MASS_MG = 3.054


@pytest.fixture(scope="module")
def maccor(tmp_path_factory) -> pl.DataFrame:
    """A realistic Maccor export (the 1.5-million-row benchmark's generator, 40 cycles of
    3 750 rows: 150 000 rows), read by the Maccor parser."""
    path = tmp_path_factory.mktemp("maccor") / "cell.txt"
    write_maccor_cycling(path, n_cycles=40, rows_per_cycle=3750, active_mass_mg=MASS_MG)
    return parse_file(path).data


# --- thinning ---------------------------------------------------------------------------------


def _steps(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_row_index("row").with_columns(g=pl.col(c.STEP).rle_id())


def test_thinning_keeps_every_steps_ends_and_extremes_within_its_budget(maccor):
    frame = _steps(maccor)
    shown = thinning.thin(frame, x=c.TIME_S, y=c.VOLTAGE_V, group="g", max_points=4000)
    n_steps = frame["g"].n_unique()
    assert n_steps == 160  # charge, rest, discharge, rest x 40 cycles
    assert shown.height <= 4000 and shown.height > 1000
    assert shown["row"].is_sorted() and shown["row"].n_unique() == shown.height
    kept = set(shown["row"].to_list())
    per_step = frame.group_by("g").agg(
        first=pl.col("row").first(),
        last=pl.col("row").last(),
        low=pl.col("row").get(pl.col(c.VOLTAGE_V).arg_min()),
        high=pl.col("row").get(pl.col(c.VOLTAGE_V).arg_max()),
    )
    for name in ("first", "last", "low", "high"):
        missing = set(per_step[name].to_list()) - kept
        assert not missing, f"{name} rows of steps dropped: {sorted(missing)[:5]}"
    # Kept rows are the original rows, unchanged.
    assert shown.drop("row").equals(frame[shown["row"].to_numpy()].drop("row"))


def test_thinning_keeps_a_one_row_spike_that_every_nth_row_would_lose(maccor):
    frame = _steps(maccor.head(20_000))
    spike_row = 1234  # inside the first charge (a CC step, 3.4-4.3 V): a one-row short
    frame = frame.with_columns(
        pl.when(pl.col("row") == spike_row)
        .then(0.0)
        .otherwise(pl.col(c.VOLTAGE_V))
        .alias(c.VOLTAGE_V)
    )
    shown = thinning.thin(frame, x=c.TIME_S, y=c.VOLTAGE_V, group="g", max_points=400)
    assert spike_row in shown["row"].to_list()
    assert shown[c.VOLTAGE_V].min() == 0.0
    assert frame.gather_every(frame.height // 400)[c.VOLTAGE_V].min() > 3.0  # what it replaces


def test_thinning_bounds_hold_with_more_steps_than_budget(maccor):
    frame = _steps(maccor)
    shown = thinning.thin(frame, x=c.TIME_S, y=c.VOLTAGE_V, group="g", max_points=100)
    # 160 steps x (first, last, min, max) at most, never fewer than the ends of each step.
    assert 2 * 160 <= shown.height <= 4 * 160


def test_thinning_leaves_a_short_series_alone_and_refuses_a_budget_below_four():
    frame = pl.DataFrame({"x": [0.0, 1.0, 2.0], "y": [1.0, 5.0, 2.0]})
    assert thinning.thin(frame, x="x", y="y", max_points=10).equals(frame)
    with pytest.raises(AnalysisError, match="max_points must be at least 4"):
        thinning.thin(frame, x="x", y="y", max_points=3)
    with pytest.raises(AnalysisError, match="column 'z' missing"):
        thinning.thin(frame, x="x", y="z", max_points=10)


# --- dQ/dV ------------------------------------------------------------------------------------

Q_MAX, V0, WIDTH = 200.0, 3.70, 0.03  # mAh/g, V, V: one logistic plateau


def _logistic(v: np.ndarray) -> np.ndarray:
    return Q_MAX / (1 + np.exp(-(v - V0) / WIDTH))


def _logistic_dqdv(v: np.ndarray) -> np.ndarray:
    """The analytic derivative: Q_MAX / (4 WIDTH) sech^2((v - V0) / (2 WIDTH))."""
    return Q_MAX / (4 * WIDTH) / np.cosh((v - V0) / (2 * WIDTH)) ** 2


def test_dqdv_of_a_noise_free_curve_is_the_analytic_derivative():
    v = np.linspace(3.4, 4.0, 3000)
    q = _logistic(v) - _logistic(v[0])
    grid, d = dqdv.dqdv(q, v, smooth_V=0.0)
    inside = (grid > 3.41) & (grid < 3.99)
    # A bin's value is the mean of dQ/dV over the bin's 2.5 mV: within 0.1 % of the peak.
    assert np.max(np.abs(d[inside] - _logistic_dqdv(grid[inside]))) < 1e-3 * Q_MAX / (4 * WIDTH)
    assert np.trapezoid(d, grid) == pytest.approx(q[-1], rel=1e-9)  # charge is kept


def test_dqdv_of_a_noisy_quantised_reading_matches_the_smoothed_analytic_curve():
    rng = np.random.default_rng(7)
    v_true = np.linspace(3.4, 4.0, 3000)
    q = _logistic(v_true) - _logistic(v_true[0])
    # A cycler's reading: 1 mV noise, logged to 0.1 mV.
    v = np.round(v_true + rng.normal(0.0, 1e-3, v_true.size), 4)
    assert dqdv.voltage_noise(v) == pytest.approx(1e-3, rel=0.15)
    grid, d = dqdv.dqdv(q, v)  # smoothing follows the noise: 10 mV here
    # Independent reference: the analytic derivative on a 0.1 mV grid, smoothed by the same
    # Gaussian numerically, read at the bin centres.
    fine = np.arange(3.3, 4.1, 1e-4)
    sigma = 10 * dqdv.voltage_noise(v)
    reference = np.interp(grid, fine, gaussian_filter1d(_logistic_dqdv(fine), sigma / 1e-4))
    inside = (grid > 3.45) & (grid < 3.95)
    peak = reference.max()
    rms = np.sqrt(np.mean((d[inside] - reference[inside]) ** 2))
    assert rms < 0.03 * peak
    assert grid[np.argmax(d)] == pytest.approx(V0, abs=0.01)
    assert np.trapezoid(d, grid) == pytest.approx(q[-1], rel=1e-9)
    # Differentiating the reading point by point gives noise, not a curve.
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = np.diff(q) / np.diff(v)
    assert np.nanmax(np.abs(naive)) > 10 * peak


def test_dqdv_by_hand():
    # 1 mAh/g spread evenly over 3.000-3.012 V (83.33 per V), then 2 mAh/g at 3.012 V exactly
    # (a repeated reading). 5 mV bins: [3.000, 3.005) and [3.005, 3.010) get 0.41667 each
    # (83.33 per V); [3.010, 3.015) gets 2 mV of the spread (0.16667) and the 2: 433.33 per V.
    grid, d = dqdv.dqdv([0.0, 1.0, 3.0], [3.0, 3.012, 3.012], bin_V=0.005, smooth_V=0.0)
    nonzero = {
        round(float(g), 4): round(float(x), 2)
        for g, x in zip(grid, d, strict=True)
        if abs(x) > 1e-6
    }
    assert nonzero == {3.0025: 83.33, 3.0075: 83.33, 3.0125: 433.33}


def test_dqdv_of_a_discharge_is_negative_and_a_decreasing_capacity_is_refused():
    v = np.linspace(4.0, 3.4, 500)
    q = _logistic(4.0) - _logistic(v)
    grid, d = dqdv.dqdv(q, v)
    assert d.min() < 0 and d.max() <= 1e-9
    assert np.trapezoid(d, grid) == pytest.approx(-q[-1], rel=1e-9)
    with pytest.raises(AnalysisError, match="capacity must not decrease"):
        dqdv.dqdv([0.0, 2.0, 1.0], [3.0, 3.1, 3.2])
    with pytest.raises(AnalysisError, match="capacity needs at least 2 points"):
        dqdv.dqdv([0.0], [3.0])


# --- curves of single cycles ------------------------------------------------------------------


def _ends(curves: pl.DataFrame) -> dict[tuple[int, int], float]:
    last = curves.group_by("cycle", "direction").agg(pl.col("capacity_mAh").last())
    return {(r["cycle"], r["direction"]): r["capacity_mAh"] for r in last.to_dicts()}


def test_cycle_curves_end_at_the_per_cycle_capacities_of_a_real_maccor_cc_cv_file():
    # cellpy's maccor_three.txt (MIT): real CC-CV charges whose Amp-hr counter carries on
    # from the CC into the CV step, cycles counted from 0 by the instrument.
    frame = parse_file(instrument_file("cellpy/maccor_three.txt")).data
    table = cycling.per_cycle(frame, 1.0)
    table = table.with_columns(pl.col("cycle") + cycling.first_cycle_offset(table["cycle"]))
    curves = cycling.cycle_curves(frame)
    ends = _ends(curves)
    for row in table.to_dicts():
        for direction, column in ((1, "charge_mAh"), (-1, "discharge_mAh")):
            if row[column] > 0:
                assert ends[(row["cycle"], direction)] == pytest.approx(row[column], rel=1e-9)
    within = curves.group_by("cycle", "direction", "step").agg(
        pl.col("capacity_mAh").diff().min().alias("d")
    )
    assert within["d"].drop_nulls().min() >= -1e-9  # capacity never runs back


def test_cycle_curves_without_a_counter_integrate_the_current_and_choose_cycles():
    frame = syn.cycling_frame(syn.full_cell_programme(12), points_per_step=50, rest_points=4)
    curves = cycling.cycle_curves(frame, [1, 12])
    assert sorted(set(curves["cycle"].to_list())) == [1, 12]
    mass_g = syn.PAPER_ACTIVE_MASS_G
    ends = {k: v / mass_g for k, v in _ends(curves).items()}
    # The programme's capacities: 217 / 199 mAh/g in cycle 1.
    assert ends[(1, 1)] == pytest.approx(217.0, rel=1e-6)
    assert ends[(1, -1)] == pytest.approx(199.0, rel=1e-6)
    assert curves.filter(pl.col("direction") == 1)[c.VOLTAGE_V].max() > 4.2


# --- choosing cycles --------------------------------------------------------------------------


def test_default_cycles_are_first_tenth_hundredth_and_last_that_exist():
    assert default_cycles(list(range(1, 401))) == [1, 10, 100, 400]
    assert default_cycles(list(range(1, 61))) == [1, 10, 60]
    assert default_cycles([1, 2, 3]) == [1, 3]
    assert default_cycles([]) == []


def test_choosing_cycles_reads_what_a_person_types_and_names_what_it_cannot_use():
    available = list(range(1, 401))
    assert choose_cycles(" 200, 1 ;50 ", available) == ([1, 50, 200], [])
    assert choose_cycles("", available) == ([1, 10, 100, 400], [])
    assert choose_cycles("1,500,999", available) == ([1], [500, 999])
    for text, message in (
        ("1,x", "“x” is not a cycle number"),
        ("-3", "“-3” is not a cycle number"),
        ("1.5", "“1.5” is not a cycle number"),
        ("2²", "“2²” is not a cycle number"),
        (",".join(map(str, range(1, 14))), "at most 12 cycles at once (you asked for 13)"),
        ("500", "500 is not in this test (cycles 1–400)"),
    ):
        with pytest.raises(PlotInputError, match=re.escape(message)) as caught:
            choose_cycles(text, available)
        assert caught.value.field == "cycles"
