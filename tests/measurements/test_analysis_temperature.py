"""Arrhenius and VFT fits against the paper: LAGP Ea 0.36 eV, SPE pseudo-Ea 0.09 eV."""

from __future__ import annotations

import json

import numpy as np
import pytest

from measurements.analysis import AnalysisError, synthetic, temperature

LAGP_TEMPERATURES_C = np.arange(20.0, 81.0, 10.0)
SPE_TEMPERATURES_C = np.array([25.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0])


def test_lagp_arrhenius_activation_energy_matches_paper():
    t_c, sigma = synthetic.arrhenius_series(LAGP_TEMPERATURES_C, ea_ev=0.36, noise=0.01, seed=1)
    fit = temperature.fit_arrhenius(t_c, sigma)
    assert fit.form == "sigma"
    assert fit.activation_energy_eV == pytest.approx(0.36, abs=0.01)
    assert 0 < fit.activation_energy_stderr_eV < 0.01
    assert abs(fit.activation_energy_eV - 0.36) < 3 * fit.activation_energy_stderr_eV
    assert fit.r_squared > 0.999
    assert fit.prefactor_unit == "S/cm"


def test_noise_free_arrhenius_is_exact():
    t_c, sigma = synthetic.arrhenius_series(LAGP_TEMPERATURES_C, ea_ev=0.36)
    fit = temperature.fit_arrhenius(t_c, sigma)
    assert fit.activation_energy_eV == pytest.approx(0.36, rel=1e-9)
    # The prefactor reproduces the reference conductivity at 25 C.
    sigma_25 = fit.prefactor * np.exp(-0.36 / (temperature.K_B_EV * 298.15))
    assert sigma_25 == pytest.approx(3.25e-4, rel=1e-9)


def test_sigma_t_form_is_fitted_and_reported_as_such():
    t_c, sigma = synthetic.arrhenius_series(LAGP_TEMPERATURES_C, ea_ev=0.36, form="sigmaT")
    fit_t = temperature.fit_arrhenius(t_c, sigma, form="sigmaT")
    fit_plain = temperature.fit_arrhenius(t_c, sigma, form="sigma")
    assert fit_t.form == "sigmaT"
    assert fit_t.prefactor_unit == "S K/cm"
    assert fit_t.activation_energy_eV == pytest.approx(0.36, rel=1e-9)
    # The forms differ by about k_B * T (~0.027 eV here): the result must say which it is.
    assert fit_t.activation_energy_eV - fit_plain.activation_energy_eV == pytest.approx(
        temperature.K_B_EV * 322, rel=0.1
    )


def test_spe_vft_series_reproduces_paper_conductivities():
    t_c, sigma = synthetic.vft_series([25.0, 40.0, 80.0])
    assert sigma[0] == pytest.approx(1.25e-3, rel=0.01)
    assert sigma[1] == pytest.approx(2e-3, rel=0.01)
    assert sigma[2] == pytest.approx(5e-3, rel=0.05)


def test_spe_vft_pseudo_activation_energy_matches_paper():
    t_c, sigma = synthetic.vft_series(SPE_TEMPERATURES_C)
    fit = temperature.fit_vft(t_c, sigma)
    assert fit.converged
    assert fit.pseudo_activation_energy_eV == pytest.approx(0.09, abs=0.001)
    assert fit.t0_k == pytest.approx(synthetic.SPE_VFT["t0_k"], abs=1.0)
    assert fit.b_k * temperature.K_B_EV == pytest.approx(fit.pseudo_activation_energy_eV)


def test_noisy_vft_fit_brackets_paper_value_with_its_error():
    t_c, sigma = synthetic.vft_series(SPE_TEMPERATURES_C, noise=0.005, seed=2)
    fit = temperature.fit_vft(t_c, sigma)
    err = fit.pseudo_activation_energy_stderr_eV
    assert err is not None and err > 0
    assert abs(fit.pseudo_activation_energy_eV - 0.09) < 3 * err
    assert fit.t0_k < SPE_TEMPERATURES_C.min() + 273.15 - 10
    assert fit.rms_log_residual < 0.01


def test_results_serialise_to_plain_json():
    t_c, sigma = synthetic.vft_series(SPE_TEMPERATURES_C, noise=0.005, seed=2)
    data = json.loads(json.dumps(temperature.fit_vft(t_c, sigma).to_dict(), allow_nan=False))
    assert data["algorithm_version"] == temperature.ALGORITHM_VERSION
    assert isinstance(data["pseudo_activation_energy_eV"], float)
    json.dumps(temperature.fit_arrhenius(t_c, sigma).to_dict(), allow_nan=False)


def test_too_few_temperatures_is_a_clear_error():
    with pytest.raises(AnalysisError, match="at least 3 temperatures, got 2"):
        temperature.fit_arrhenius([25, 40], [1e-4, 2e-4])
    with pytest.raises(AnalysisError, match="at least 4 temperatures, got 3"):
        temperature.fit_vft([25, 40, 80], [1e-3, 2e-3, 5e-3])


def test_non_positive_conductivity_is_rejected():
    with pytest.raises(AnalysisError, match="conductivity must be positive"):
        temperature.fit_arrhenius([20, 40, 60], [1e-4, 0.0, 3e-4])


def test_non_finite_temperature_is_named():
    with pytest.raises(AnalysisError, match="temperature_C has a non-finite value at index 1"):
        temperature.fit_arrhenius([20, np.nan, 60], [1e-4, 2e-4, 3e-4])


def test_unknown_form_is_rejected():
    with pytest.raises(AnalysisError, match="unknown Arrhenius form"):
        temperature.fit_arrhenius([20, 40, 60], [1e-4, 2e-4, 3e-4], form="log")


def test_repeated_temperatures_do_not_count_twice():
    with pytest.raises(AnalysisError, match="distinct temperatures"):
        temperature.fit_arrhenius([25, 25, 40], [1e-4, 1.1e-4, 2e-4])
