"""TGA against the paper's Fig. 2f: SPE stable up to 215 C, LAGP no mass loss up to 600 C
(30 min at 30 C, then 5 C/min to 600 C)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from demo.synthetic import spectra as synthetic
from measurements.analysis import AnalysisError, tga


def test_spe_onset_is_215_c():
    result = tga.analyse(synthetic.tga_curve(synthetic.SPE_TGA_STEPS))
    assert result.onset_C == pytest.approx(215, abs=3)
    assert result.t_1pct_loss_C < result.t_5pct_loss_C < result.steepest_loss_C
    assert result.steepest_loss_C == pytest.approx(215 + 2 * 12, abs=3)  # logistic centre


def test_spe_residue_is_what_the_steps_leave():
    result = tga.analyse(synthetic.tga_curve(synthetic.SPE_TGA_STEPS))
    lost = sum(pct for _, _, pct in synthetic.SPE_TGA_STEPS)
    assert result.residue_pct == pytest.approx(100 - lost, abs=0.1)
    assert result.final_temperature_C == pytest.approx(600)


def test_lagp_loses_nothing_up_to_600_c():
    result = tga.analyse(synthetic.tga_curve(synthetic.LAGP_TGA_STEPS, noise_pct=0.01))
    assert result.t_1pct_loss_C is None
    assert result.t_5pct_loss_C is None
    assert result.onset_C is None
    assert result.residue_pct == pytest.approx(100, abs=0.1)


def test_loss_temperatures_are_interpolated():
    # A linear 10 %/100 K loss from 100 C: 1 % at 110 C, 5 % at 150 C.
    temperature = np.linspace(30, 300, 271)
    mass = 100 - np.clip(temperature - 100, 0, 100) * 0.1
    frame = pl.DataFrame({"temperature_C": temperature, "mass_pct": mass})
    result = tga.analyse(frame)
    assert result.t_1pct_loss_C == pytest.approx(110, abs=1e-6)
    assert result.t_5pct_loss_C == pytest.approx(150, abs=1e-6)


def test_absolute_mass_gives_the_same_result():
    curve = synthetic.tga_curve(synthetic.SPE_TGA_STEPS, initial_mass_mg=1.2)
    from_pct = tga.analyse(curve)
    from_mg = tga.analyse(curve.drop("mass_pct"))
    assert from_mg.onset_C == pytest.approx(from_pct.onset_C, abs=1e-6)
    assert from_mg.residue_pct == pytest.approx(from_pct.residue_pct, abs=1e-6)


def test_thermocouple_jitter_does_not_move_the_onset():
    curve = synthetic.tga_curve(synthetic.SPE_TGA_STEPS)
    jitter = np.random.default_rng(5).normal(0, 0.05, curve.height)
    noisy = curve.with_columns(pl.col("temperature_C") + pl.Series(jitter))
    assert tga.analyse(noisy).onset_C == pytest.approx(215, abs=3)


def test_result_serialises_to_plain_json():
    result = tga.analyse(synthetic.tga_curve(synthetic.LAGP_TGA_STEPS))
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["onset_C"] is None
    assert data["algorithm_version"] == tga.ALGORITHM_VERSION


def test_missing_mass_is_named():
    curve = synthetic.tga_curve().drop("mass_pct", "mass_mg")
    with pytest.raises(AnalysisError, match="column 'mass_pct' missing"):
        tga.analyse(curve)


def test_too_few_points_is_a_clear_error():
    curve = synthetic.tga_curve().head(5)
    with pytest.raises(AnalysisError, match="at least 10 rows, got 5"):
        tga.analyse(curve)


def test_non_finite_mass_is_rejected():
    curve = synthetic.tga_curve().with_columns(
        pl.when(pl.int_range(pl.len()) == 7)
        .then(float("inf"))
        .otherwise(pl.col("mass_pct"))
        .alias("mass_pct")
    )
    with pytest.raises(AnalysisError, match="column 'mass_pct' has null or non-finite"):
        tga.analyse(curve)


def test_isothermal_data_only_is_rejected():
    frame = pl.DataFrame({"temperature_C": [30.0] * 50, "mass_pct": [100.0] * 50})
    with pytest.raises(AnalysisError, match="needs a temperature ramp"):
        tga.analyse(frame)
