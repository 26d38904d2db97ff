"""Li stripping/plating against the paper's Fig. 3 (0.05 mA/cm2, 2 h steps, OCV every 12 h):
Li|LAGP|Li ~0.2 V falling to ~0.1 V and failing after ~80 h; Li|ILE/LAGP/ILE|Li < 0.02 V,
rising after 150 h and shorting at ~195 h; Li|ILE/SPE/LAGP/SPE/ILE|Li ~0.03 V for 1000 h."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from demo.synthetic import spectra as synthetic
from measurements.analysis import AnalysisError, stripping

BARE = "Li|LAGP|Li"
ILE = "Li|ILE/LAGP/ILE|Li"
SPE = "Li|ILE/SPE/LAGP/SPE/ILE|Li"
HALF_CYCLE_H = 2.0


def _trace(cell: str, duration_h: float, **kwargs) -> pl.DataFrame:
    profile = synthetic.PAPER_STRIPPING_PROFILES[cell]
    return synthetic.stripping_trace(profile, duration_h=duration_h, **kwargs)


@pytest.mark.parametrize("step_counter", [True, False], ids=["step-column", "current-sign"])
def test_bare_lagp_fails_after_about_80_hours(step_counter):
    result = stripping.analyse(_trace(BARE, 120, step_counter=step_counter))
    assert result.failure_time_h == pytest.approx(80, abs=HALF_CYCLE_H)
    assert result.short_circuit_time_h is None
    assert result.failed
    assert result.initial_overpotential_V == pytest.approx(0.2, abs=0.025)
    # Before failing, the overpotential settles at ~0.1 V: polarization falls.
    healthy = result.half_cycles.filter(pl.col("end_h") <= result.failure_time_h)
    assert healthy["overpotential_V"].tail(3).median() == pytest.approx(0.1, abs=0.01)
    assert result.polarization_slope_mV_h < 0
    assert result.polarization_ratio == pytest.approx(0.55, abs=0.1)


@pytest.mark.parametrize("step_counter", [True, False], ids=["step-column", "current-sign"])
def test_ile_cell_shorts_at_about_195_hours(step_counter):
    result = stripping.analyse(_trace(ILE, 240, step_counter=step_counter))
    assert result.short_circuit_time_h == pytest.approx(195, abs=HALF_CYCLE_H)
    assert result.failure_time_h is None  # a gradual rise is not a failure
    assert result.initial_overpotential_V < 0.02
    assert result.polarization_ratio > 1.5  # the rise after 150 h
    assert result.polarization_slope_mV_h > 0


def test_spe_interlayer_cell_is_stable_for_1000_hours():
    result = stripping.analyse(_trace(SPE, 1000, noise_V=1e-3))
    assert result.failure_time_h is None
    assert result.short_circuit_time_h is None
    assert not result.failed
    assert result.median_overpotential_V == pytest.approx(0.03, abs=0.002)
    assert abs(result.polarization_slope_mV_h) < 1e-3
    assert result.polarization_ratio == pytest.approx(1.0, abs=0.05)
    assert result.duration_h == pytest.approx(1000, abs=1)


def test_half_cycle_table_skips_rests_and_alternates_current():
    table = stripping.analyse(_trace(SPE, 26)).half_cycles
    assert table.columns == list(stripping.HALF_CYCLE_COLUMNS)
    # Two 12 h blocks of six 2 h half cycles, with a 1 h OCV rest after each.
    assert table["index"].to_list() == list(range(1, 13))
    assert table["start_h"].to_list()[5:8] == [10.0, 13.0, 15.0]
    assert np.all(np.sign(table["current_mA"].to_numpy()) == np.tile([1, -1], 6))
    assert table["current_mA"].abs().to_list() == pytest.approx([0.05] * 12)


def test_overpotential_uses_the_late_part_of_each_step():
    # Voltage approaches its plateau in the first ~0.5 h; the late median is the plateau.
    table = stripping.half_cycles(_trace(SPE, 12, noise_V=0.0))
    assert table["overpotential_V"].to_list() == pytest.approx([0.03] * 6, rel=1e-3)
    whole = stripping.half_cycles(_trace(SPE, 12, noise_V=0.0), late_fraction=1.0)
    assert np.all(whole["overpotential_V"].to_numpy() < table["overpotential_V"].to_numpy())


def test_absolute_failure_threshold_is_a_parameter():
    result = stripping.analyse(_trace(SPE, 100), failure_threshold_V=0.02)
    assert result.failure_time_h == 0.0
    assert result.criteria["failure_threshold_V"] == 0.02


def test_result_serialises_to_plain_json():
    data = json.loads(json.dumps(stripping.analyse(_trace(ILE, 240)).to_dict(), allow_nan=False))
    assert data["algorithm_version"] == stripping.ALGORITHM_VERSION
    assert data["failed"] is True
    assert len(data["half_cycles"]["overpotential_V"]) == data["n_half_cycles"]


def test_missing_column_is_named():
    with pytest.raises(AnalysisError, match="column 'voltage_V' missing"):
        stripping.analyse(_trace(SPE, 24).drop("voltage_V"))


def test_zero_current_throughout_is_a_clear_error():
    trace = _trace(SPE, 24).with_columns(pl.lit(0.0).alias("current_mA"))
    with pytest.raises(AnalysisError, match="no current steps found"):
        stripping.analyse(trace)


def test_bad_parameters_are_rejected():
    with pytest.raises(AnalysisError, match="late_fraction must be in"):
        stripping.analyse(_trace(SPE, 24), late_fraction=0.0)
    with pytest.raises(AnalysisError, match="short_consecutive must be at least 1"):
        stripping.analyse(_trace(SPE, 24), short_consecutive=0)
