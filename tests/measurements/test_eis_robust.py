"""Circuits in impedance.py's syntax, the Lin-KK check, and fits that find the right minimum.

References: impedance.py (ECSHackWeek, MIT) computes the same circuits independently; the
Lin-KK check is exact on a spectrum made of its own RC elements; the hot-pellet spectra follow
the paper's LAGP pellet (329.2 ohm at 25 C, Ea 0.36 eV).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

from benchmarks import eis_fit as bench
from demo.synthetic import spectra as synthetic
from measurements.analysis import AnalysisError, eis, linkk
from measurements.analysis.circuits import parse_circuit
from measurements.parsers import parse_file
from tests.instrument_files import instrument_file

K_B_EV = 8.617333262e-5
FREQ = np.logspace(6, -1, 57)
# Bulk arc at about 200 kHz, grain-boundary arc at about 2 kHz, then the electrode spike.
TWO_ARC_TRUTH = {
    "R0": 2.0, "R1": 150.0, "Q1": 1e-8, "n1": 0.95,
    "R2": 300.0, "Q2": 1e-6, "n2": 0.85, "Q3": 5e-5, "n3": 0.8,
}  # fmt: skip

CIRCUITS = [
    ("R0-p(R1,CPE1)-CPE2", [10, 100, 1e-6, 0.85, 1e-5, 0.8]),
    ("L0-R0-p(R1,CPE1)-p(R2,CPE2)-CPE3", [1e-7, 5, 100, 1e-9, 0.9, 300, 1e-7, 0.8, 1e-5, 0.75]),
    ("R0-p(R1-Wo1,C1)", [10, 100, 50, 2.0, 1e-6]),
    ("R0-p(R1-Ws1,C1)-W1", [10, 100, 50, 2.0, 1e-6, 30]),
    ("p(R1,C1,L1-R2)", [10, 1e-6, 1e-5, 3]),
]


@pytest.mark.parametrize("text, values", CIRCUITS, ids=[c for c, _ in CIRCUITS])
def test_every_element_matches_impedance_py_and_the_jacobian_matches_finite_differences(
    text, values
):
    from impedance.models.circuits import CustomCircuit

    circuit = parse_circuit(text)
    x = np.array(values, dtype=float)
    omega = 2 * np.pi * FREQ
    z, jac = circuit.impedance(x, omega, jacobian=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Simulating circuit based on initial parameters"
        reference = CustomCircuit(text, initial_guess=values).predict(FREQ, use_initial=True)
    assert np.max(np.abs(z - reference) / np.abs(reference)) < 1e-12
    h = 1e-6
    for k, p in enumerate(circuit.parameters):
        step = x.copy()
        step[k] = step[k] * math.exp(h) if p.is_log else step[k] + h
        numeric = (circuit.impedance(step, omega)[0] - z) / h
        assert np.max(np.abs(jac[:, k] - numeric)) < 1e-4 * np.max(np.abs(jac)), p.name


def test_parameter_names_follow_the_elements():
    assert parse_circuit("R0-p(R1,CPE1)-CPE2").parameter_names == [
        "R0", "R1", "Q1", "n1", "Q2", "n2"
    ]  # fmt: skip
    assert parse_circuit("L-R0-CPE").parameter_names == ["L", "R0", "Q", "n"]
    assert parse_circuit("R0-Wo1").parameter_names == ["R0", "Wo1_R", "Wo1_tau"]
    assert parse_circuit(" R0 - p(R1, C1) ").text == "R0-p(R1,C1)"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the circuit is empty"),
        ("R0-", "expected an element or p( at character 4"),
        ("p(R1)", "p(...) needs at least two branches"),
        ("R0-R0", "element R0 appears twice"),
        ("X1", "expected an element or p( at character 1"),
        ("R0-p(R1,C1", "expected ',' or ')' to close p("),
        ("R0" + "-R1" * 0 + "x" * 300, "longer than 200 characters"),
    ],
)
def test_a_circuit_that_cannot_be_read_says_where(text, message):
    with pytest.raises(AnalysisError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_circuit(text)


@pytest.mark.parametrize(
    "model, definition, message",
    [
        ("R0-p(R1,C1)", None, "say which resistances of R0-p(R1,C1) make the conductivity"),
        ("R0-p(R1,C1)", "R0+R5", "'R5' is not a resistance of R0-p(R1,C1)"),
        ("R0-p(R1,C1)", "R0+R0", "names a resistance twice"),
        ("R0-p(R1,C1)", "bulk=R0; bulk=R1", "the label 'bulk' is given twice"),
        ("R0-p(R1,C1)", "b@d=R0", "is not a usable label"),
        ("auto", "R0", "applies to a chosen circuit, not to 'auto'"),
    ],
)
def test_a_conductivity_definition_names_resistances_of_its_circuit(model, definition, message):
    assert message in eis.validate_circuit(model, definition)


def test_built_in_circuits_report_bulk_grain_boundary_and_total():
    assert eis.conductivity_definition(eis.TWO_ARC, None) == {
        "bulk": ["R0", "R1"],
        "grain boundary": ["R2"],
        "total": ["R0", "R1", "R2"],
    }
    assert eis.conductivity_definition("R0-p(R1,C1)", "R0+R1") == {"total": ["R0", "R1"]}


def test_two_arc_ceramic_gives_each_conductivity_with_its_error():
    z = eis.model_impedance(eis.TWO_ARC, TWO_ARC_TRUTH, FREQ)
    rng = np.random.default_rng(1)
    z = z + 0.002 * np.abs(z) * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size))
    fit = eis.fit_impedance(FREQ, z.real, z.imag, model=eis.TWO_ARC)
    assert fit.resistances["bulk"]["value"] == pytest.approx(152.0, rel=0.01)
    assert fit.resistances["grain boundary"]["value"] == pytest.approx(300.0, rel=0.01)
    assert fit.resistances["total"]["value"] == pytest.approx(452.0, rel=0.005)
    assert fit.ionic_resistance_ohm == fit.resistances["total"]["value"]
    for r in fit.resistances.values():
        assert 0 < r["stderr"] < 0.01 * r["value"]
    # the total's error includes the covariance of its parts: below the errors' plain sum
    parts = fit.resistances["bulk"]["stderr"] + fit.resistances["grain boundary"]["stderr"]
    assert fit.resistances["total"]["stderr"] < parts
    assert fit.warnings == []


@pytest.mark.parametrize(
    "true_model, params, chosen",
    [
        (eis.GRAIN_BOUNDARY, synthetic.LAGP_CIRCUIT, eis.GRAIN_BOUNDARY),
        (eis.INDUCTIVE, synthetic.SPE_CIRCUIT, eis.INDUCTIVE),
        (
            eis.TWO_ARC,
            TWO_ARC_TRUTH,
            eis.TWO_ARC,
        ),
    ],
)
def test_auto_chooses_the_true_circuit_by_aic_and_says_why(true_model, params, chosen):
    df = synthetic.eis_spectrum(true_model, params, seed=3, noise=0.005)
    fit = eis.fit_impedance_frame(df)
    assert fit.model == chosen
    assert fit.choice.startswith(f"chose {chosen}: AIC")
    assert {c["model"] for c in fit.candidates} == set(eis.MODELS)
    assert min(c["aic"] for c in fit.candidates) == pytest.approx(fit.aic)


def _hot_lagp(t_c: float, seed: int) -> tuple[float, np.ndarray, np.ndarray]:
    """The paper's pellet heated: both resistances fall with Ea = 0.36 eV while the arc's CPE
    stays, so the arc moves up and out of the 1 MHz window, under a blocking spike thousands
    of times the electrolyte's resistance at 1 Hz."""
    scale = math.exp(-0.36 / K_B_EV * (1 / 298.15 - 1 / (t_c + 273.15)))
    params = dict(synthetic.LAGP_CIRCUIT, R0=200.0 * scale, R1=129.2 * scale)
    df = synthetic.eis_spectrum(eis.GRAIN_BOUNDARY, params, seed=seed, noise=0.01)
    z = df["z_real_ohm"].to_numpy() + 1j * df["z_imag_ohm"].to_numpy()
    return params["R0"] + params["R1"], df["frequency_Hz"].to_numpy(), z


@pytest.mark.parametrize("t_c", [55, 65, 75, 85])
def test_hot_pellets_give_tens_of_ohms_not_megaohms(t_c):
    for seed in range(3):
        total, f, z = _hot_lagp(t_c, seed)
        assert total < 100  # tens of ohms (91 ohm at 55 C, 31 ohm at 85 C)
        fit = eis.fit_impedance(f, z.real, z.imag, model=eis.GRAIN_BOUNDARY)
        assert fit.ionic_resistance_ohm == pytest.approx(total, rel=0.01)
        assert "resistance_off_spectrum" not in {w["code"] for w in fit.warnings}


def test_a_wrong_minimum_is_flagged_against_the_spectrums_own_resistance():
    # What the old fit reported for such a pellet: 2.7 Mohm instead of about 90 ohm.
    total, f, z = _hot_lagp(55, 0)
    fit = eis.fit_impedance(f, z.real, z.imag, model=eis.GRAIN_BOUNDARY)
    wrong = dataclasses.replace(
        fit, resistances={"total": {"definition": "R0+R1", "value": 2.7e6, "stderr": None}}
    )
    omega, zz = eis._spectrum(f, z.real, z.imag)
    [warning] = [
        w
        for w in eis._fit_warnings(wrong, eis._FeatureCache(omega, zz))
        if w["code"] == "resistance_off_spectrum"
    ]
    assert "2.7e+06 Ω" in warning["message"] and "wrong minimum" in warning["message"]


def test_random_spectra_find_the_lowest_minimum():
    """A sample of the benchmark's spectra (benchmarks/eis_fit.py runs 1000): every fit ends
    at the lowest minimum there is (none lower from the true parameters), and the total is
    within 1 % wherever the spectrum determines it (standard error below 0.3 %)."""
    missed, determined = [], 0
    for case in bench.cases(120, seed=7):
        fit = eis.fit_impedance(
            case.freq, case.z.real, case.z.imag, model=case.circuit, conductivity=case.total
        )
        lower, _ = bench.optimiser_missed(case)
        assert not lower, case
        err = fit.ionic_resistance_stderr_ohm
        if err is not None and err < 0.003 * fit.ionic_resistance_ohm:
            determined += 1
            if abs(fit.ionic_resistance_ohm / case.true_total - 1) > 0.01:
                missed.append(case)
    assert determined > 90
    assert missed == []


@pytest.mark.parametrize(
    "model, params",
    [
        (eis.TWO_ARC, TWO_ARC_TRUTH),
        (eis.GRAIN_BOUNDARY, synthetic.LAGP_CIRCUIT),
        (eis.INDUCTIVE, synthetic.SPE_CIRCUIT),
        ("R0-p(R1-Wo1,C1)", {"R0": 10, "R1": 100, "Wo1_R": 50, "Wo1_tau": 2.0, "C1": 1e-6}),
    ],
)
def test_lin_kk_follows_any_consistent_spectrum_closely(model, params):
    # Noise-free spectra of circuits are Kramers-Kronig consistent: residuals well below the
    # 1 % limit, so a real spectrum's residuals measure its noise and drift, not the method.
    z = eis.model_impedance(model, params, FREQ)
    check = linkk.lin_kk(FREQ, z)
    assert check.rms < 0.002 and check.warnings() == []


def test_lin_kk_flags_a_drifting_spectrum_and_passes_a_steady_one():
    df = synthetic.eis_spectrum(eis.GRAIN_BOUNDARY, synthetic.LAGP_CIRCUIT, seed=1, noise=0.002)
    f = df["frequency_Hz"].to_numpy()
    z = df["z_real_ohm"].to_numpy() + 1j * df["z_imag_ohm"].to_numpy()
    steady = linkk.lin_kk(f, z)
    assert steady.rms < 0.003 and steady.warnings() == []
    # The sample warms during the sweep: its resistance falls 20 % from the first point to the
    # last, which no causal, stable, linear impedance can do.
    drift = np.linspace(1.0, 0.8, f.size)
    drifting = linkk.lin_kk(f, z.real * drift + 1j * z.imag)
    [warning] = drifting.warnings()
    assert warning["code"] == "linkk_residuals" and drifting.rms > 0.01


def test_real_spectra_are_judged_by_lin_kk():
    # impedance.py's CHI example drifts (1.3 % rms); its ZPlot example is consistent.
    chi = parse_file(instrument_file("impedance.py/exampleDataCHInstruments.txt")).data
    zplot = parse_file(instrument_file("impedance.py/exampleDataZPlot.z")).data
    codes = {w["code"] for w in eis.fit_impedance_frame(chi, model=eis.GRAIN_BOUNDARY).warnings}
    assert "linkk_residuals" in codes
    fit = eis.fit_impedance_frame(zplot, model=eis.GRAIN_BOUNDARY)
    assert fit.linkk["rms"] < 0.01 and fit.warnings == []
    assert len(fit.linkk["residuals_real"]) == zplot.height


def test_a_resistance_the_spectrum_cannot_determine_is_flagged():
    # Two resistors in series are one resistance to any spectrum: the fit cannot give either
    # an error (the VersaStudio walk-through showed such a fit as plainly done).
    z = eis.model_impedance(eis.GRAIN_BOUNDARY, synthetic.LAGP_CIRCUIT, FREQ)
    fit = eis.fit_impedance(
        FREQ, z.real, z.imag, model="R0-R9-p(R1,CPE1)-CPE2", conductivity="bulk=R0; total=R0+R9+R1"
    )
    flagged = {w["parameter"] for w in fit.warnings if w["code"] == "resistance_undetermined"}
    assert "bulk" in flagged
    assert fit.resistances["bulk"]["stderr"] is None


def test_warnings_read_as_sentences_and_keep_parameter_names():
    # impedance.py's VersaStudio spectrum: n2 of the spike ends at its lower limit (0.3).
    data = parse_file(instrument_file("impedance.py/exampleDataVersaStudio.par")).data
    fit = eis.fit_impedance_frame(data, model=eis.GRAIN_BOUNDARY)
    [bound] = [w for w in fit.warnings if w["code"] == "parameter_at_bound"]
    assert bound["message"].startswith("Parameter n2 stopped at the limit of its range (0.3)")
    assert all(w["message"][0].isupper() and w["message"].endswith(".") for w in fit.warnings)
