"""Equivalent-circuit fits: the paper's conductivities, parameter recovery, real spectra.

Real spectra are from ECSHackWeek/impedance.py@0b302ca9eabf (MIT), see
tests/data/instrument-files/INDEX.md; they are read here with a tiny local reader because the
instrument parsers are tested on their own.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from demo.synthetic import spectra as synthetic
from measurements.analysis import AnalysisError, eis
from tests.instrument_files import ROOT as INSTRUMENT_FILES

IMPEDANCE_FILES = INSTRUMENT_FILES / "impedance.py"

# Paper: LAGP pellet sintered at 900 C, 329.2 ohm -> 3.25e-4 S/cm. With a 0.6 mm pellet that
# needs an electrode area of 0.06 / (329.2 * 3.25e-4) = 0.5608 cm2.
LAGP_THICKNESS_CM = 0.06
LAGP_AREA_CM2 = 0.5608
# Paper: 20 um SPE, 1.59 ohm -> 1.25e-3 S/cm (1 cm2 electrodes).
SPE_THICKNESS_CM = 0.002
SPE_AREA_CM2 = 1.0


def _within_three_sigma(fit: eis.EisFit, truth: dict[str, float]) -> None:
    for name, true_value in truth.items():
        value, stderr = fit.parameters[name]
        assert stderr is not None and stderr > 0, name
        assert abs(value - true_value) < 3 * stderr, (name, value, stderr, true_value)


@pytest.fixture(scope="module")
def lagp_fit() -> eis.EisFit:
    spectrum = synthetic.eis_spectrum(eis.GRAIN_BOUNDARY, synthetic.LAGP_CIRCUIT, seed=0)
    return eis.fit_impedance_frame(spectrum, model=eis.GRAIN_BOUNDARY)


@pytest.fixture(scope="module")
def spe_fit() -> eis.EisFit:
    spectrum = synthetic.eis_spectrum(eis.INDUCTIVE, synthetic.SPE_CIRCUIT, seed=0)
    return eis.fit_impedance_frame(spectrum, model=eis.INDUCTIVE)


def test_lagp_pellet_conductivity_matches_paper(lagp_fit):
    assert synthetic.LAGP_CIRCUIT["R0"] + synthetic.LAGP_CIRCUIT["R1"] == pytest.approx(329.2)
    sigma = eis.conductivity_s_cm(lagp_fit.ionic_resistance_ohm, LAGP_THICKNESS_CM, LAGP_AREA_CM2)
    assert f"{sigma:.2e}" == "3.25e-04"


def test_lagp_fit_recovers_circuit_with_standard_errors(lagp_fit):
    assert lagp_fit.converged
    assert lagp_fit.at_bounds == ()
    truth = synthetic.LAGP_CIRCUIT
    for name in ("R0", "R1", "n1", "Q2", "n2"):
        assert lagp_fit.value(name) == pytest.approx(truth[name], rel=0.03), name
    # Q1 trades off against n1 (one arc), so it is looser; its error bar says so.
    assert lagp_fit.value("Q1") == pytest.approx(truth["Q1"], rel=0.25)
    _within_three_sigma(lagp_fit, truth)
    assert lagp_fit.ionic_resistance_stderr_ohm == pytest.approx(1.0, rel=0.9)


def test_lagp_residual_matches_the_added_noise(lagp_fit):
    # 0.5 % noise on each of Z' and Z'' relative to |Z|.
    assert lagp_fit.weighted_rms == pytest.approx(0.005, rel=0.3)
    assert lagp_fit.n_points == synthetic.frequencies_hz().size


def test_spe_conductivity_matches_paper(spe_fit):
    assert spe_fit.converged
    assert spe_fit.ionic_resistance_ohm == pytest.approx(1.59, rel=0.01)
    sigma = eis.conductivity_s_cm(spe_fit.ionic_resistance_ohm, SPE_THICKNESS_CM, SPE_AREA_CM2)
    assert sigma == pytest.approx(1.25e-3, rel=0.01)


def test_spe_fit_recovers_lead_inductance(spe_fit):
    truth = synthetic.SPE_CIRCUIT
    for name, value in truth.items():
        assert spe_fit.value(name) == pytest.approx(value, rel=0.03), name
    _within_three_sigma(spe_fit, truth)


@pytest.mark.parametrize(
    ("circuit", "expected"),
    [
        (synthetic.LAGP_CIRCUIT, eis.GRAIN_BOUNDARY),
        (synthetic.SPE_CIRCUIT, eis.INDUCTIVE),
    ],
)
def test_auto_chooses_the_circuit_that_made_the_spectrum(circuit, expected):
    spectrum = synthetic.eis_spectrum(expected, circuit, seed=3)
    assert eis.fit_impedance_frame(spectrum).model == expected


@pytest.mark.parametrize("q1", [1e-8, 1e-7, 1e-6, 3e-6])
def test_guesses_from_data_find_the_arc_wherever_it_lies(q1):
    # From an arc mostly above 1 MHz to one that merges with the electrode spike.
    truth = dict(synthetic.LAGP_CIRCUIT, Q1=q1)
    for seed in range(5):
        spectrum = synthetic.eis_spectrum(eis.GRAIN_BOUNDARY, truth, seed=seed)
        fit = eis.fit_impedance_frame(spectrum, model=eis.GRAIN_BOUNDARY)
        assert fit.converged
        assert fit.ionic_resistance_ohm == pytest.approx(329.2, rel=0.05)


def test_noise_free_spectrum_is_fitted_exactly():
    spectrum = synthetic.eis_spectrum(eis.GRAIN_BOUNDARY, synthetic.LAGP_CIRCUIT, noise=0.0)
    fit = eis.fit_impedance_frame(spectrum, model=eis.GRAIN_BOUNDARY)
    for name, value in synthetic.LAGP_CIRCUIT.items():
        assert fit.value(name) == pytest.approx(value, rel=1e-5), name


def test_model_impedance_takes_fit_parameters(lagp_fit):
    freq = np.array([1e5, 1e2, 1.0])
    z = eis.model_impedance(lagp_fit.model, lagp_fit.parameters, freq)
    assert z.shape == (3,)
    assert np.all(z.imag < 0)  # capacitive, instrument sign convention


def test_result_serialises_to_plain_json(lagp_fit):
    data = json.loads(json.dumps(lagp_fit.to_dict(), allow_nan=False))
    assert data["model"] == eis.GRAIN_BOUNDARY
    assert data["algorithm_version"] == eis.ALGORITHM_VERSION
    assert data["parameters"]["R0"]["unit"] == "ohm"
    assert isinstance(data["parameters"]["R0"]["stderr"], float)


def test_parameter_at_bound_has_no_standard_error_and_serialises_as_null():
    # A pure R-(R||C) spectrum has no electrode spike: CPE2 runs to its upper bound.
    freq = synthetic.frequencies_hz()
    z = 50 + 100 / (1 + 1j * 2 * np.pi * freq * 100 * 1e-8)
    fit = eis.fit_impedance(freq, z.real, z.imag, model=eis.GRAIN_BOUNDARY)
    assert fit.ionic_resistance_ohm == pytest.approx(150, rel=1e-3)
    for name in fit.at_bounds:
        assert fit.stderr(name) is None
        assert fit.to_dict()["parameters"][name]["stderr"] is None


# --- real spectra -------------------------------------------------------------------------------


def _read_zplot(path: Path) -> tuple[np.ndarray, ...]:
    lines = path.read_text(encoding="latin-1").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "End Comments") + 1
    table = np.loadtxt(lines[start:])
    return table[:, 0], table[:, 4], table[:, 5]


def _read_csv(path: Path) -> tuple[np.ndarray, ...]:
    table = np.loadtxt(path, delimiter=",")
    return table[:, 0], table[:, 1], table[:, 2]


def _read_mpt(path: Path) -> tuple[np.ndarray, ...]:
    lines = path.read_text(encoding="latin-1").splitlines()
    n_header = int(lines[1].split(":")[1])
    table = np.loadtxt(lines[n_header:])
    return table[:, 0], table[:, 1], -table[:, 2]  # BioLogic exports -Im(Z)


REAL_SPECTRA = [
    ("exampleDataZPlot.z", _read_zplot),
    ("Circuit1_EIS_1.z", _read_zplot),
    ("exampleDataBioLogic.mpt", _read_mpt),
    ("exampleData.csv", _read_csv),
]


@pytest.mark.parametrize(("name", "reader"), REAL_SPECTRA)
def test_real_spectrum_fit_converges_with_sane_residual(name, reader):
    freq, z_real, z_imag = reader(IMPEDANCE_FILES / name)
    fit = eis.fit_impedance(freq, z_real, z_imag)
    assert fit.converged
    assert fit.n_points == freq.size
    assert fit.weighted_rms < 0.1  # within 10 % of |Z| on average
    # The arc may run past the lowest frequency (exampleDataZPlot stops at 3 kHz), so the
    # fitted resistance can exceed the largest Z' but not by much.
    assert z_real.min() * 0.5 < fit.ionic_resistance_ohm < 2 * np.abs(z_real + 1j * z_imag).max()
    json.dumps(fit.to_dict(), allow_nan=False)


def test_dummy_circuit_resistance_is_the_low_frequency_plateau():
    freq, z_real, z_imag = _read_zplot(IMPEDANCE_FILES / "Circuit1_EIS_1.z")
    fit = eis.fit_impedance(freq, z_real, z_imag)
    plateau = float(np.median(z_real[freq < 5]))
    assert fit.model == eis.GRAIN_BOUNDARY
    assert fit.ionic_resistance_ohm == pytest.approx(plateau, rel=0.01)
    assert fit.value("R0") == pytest.approx(z_real[0], rel=0.02)  # 50 kHz intercept


# --- bad input ---------------------------------------------------------------------------------


def test_too_few_points_is_a_clear_error():
    with pytest.raises(AnalysisError, match="at least 6 points, got 3"):
        eis.fit_impedance([1e3, 1e2, 1e1], [1, 2, 3], [-1, -2, -3])


def test_non_finite_value_is_named():
    spectrum = synthetic.eis_spectrum(eis.INDUCTIVE, synthetic.SPE_CIRCUIT)
    z_real = spectrum["z_real_ohm"].to_numpy().copy()
    z_real[4] = math.nan
    with pytest.raises(AnalysisError, match="z_real_ohm has a non-finite value at index 4"):
        eis.fit_impedance(spectrum["frequency_Hz"], z_real, spectrum["z_imag_ohm"])


def test_non_positive_frequency_is_rejected():
    with pytest.raises(AnalysisError, match="frequency_Hz must be positive"):
        eis.fit_impedance([0, 1, 2, 3, 4, 5], [1] * 6, [-1] * 6)


def test_unknown_model_is_rejected():
    spectrum = synthetic.eis_spectrum(eis.INDUCTIVE, synthetic.SPE_CIRCUIT)
    with pytest.raises(AnalysisError, match="circuit 'Randles': expected an element"):
        eis.fit_impedance_frame(spectrum, model="Randles")


def test_missing_column_is_named():
    spectrum = synthetic.eis_spectrum(eis.INDUCTIVE, synthetic.SPE_CIRCUIT).drop("z_imag_ohm")
    with pytest.raises(AnalysisError, match="column 'z_imag_ohm' missing"):
        eis.fit_impedance_frame(spectrum)


def test_mismatched_lengths_are_rejected():
    with pytest.raises(AnalysisError, match="differ in length"):
        eis.fit_impedance(np.logspace(6, 0, 10), np.ones(9), -np.ones(10))


def test_not_a_dataframe_is_rejected():
    with pytest.raises(AnalysisError, match="polars DataFrame"):
        eis.fit_impedance_frame(pl.DataFrame().to_dict())


@pytest.mark.parametrize(
    ("resistance", "thickness", "area"),
    [(0.0, 0.06, 0.5), (329.2, -0.06, 0.5), (329.2, 0.06, 0.0), (math.inf, 0.06, 0.5)],
)
def test_conductivity_rejects_non_positive_geometry(resistance, thickness, area):
    with pytest.raises(ValueError):
        eis.conductivity_s_cm(resistance, thickness, area)
