"""Equivalent-circuit fits of the VersaStudio, Ivium and PalmSens spectra, against impedance.py.

Each real file is parsed by our parser and fitted by ``measurements.analysis.eis``; the
reference numbers below were produced once by impedance.py 1.7.1 (MIT) on data read by an
independent reader:

- VersaStudio .par: ``impedance.preprocessing.readVersaStudio`` (impedance.py 1.7.1);
- Ivium .idf: ``readIvium`` of impedance.py PR #294 (commit 23ec61e, file from cf2b18ea841d);
- PalmSens .pssession: a ten-line json reader of the session's Frequency/ZRe/ZIm arrays,
  with Z = ZRe - j*ZIm (PalmSens' ZIm is -Z'').

Those readers gave exactly the values our parsers give (max |difference| 0.0 on every column).
The reference fit is ``CustomCircuit("R0-p(R1,CPE1)-CPE2").fit(f, Z, weight_by_modulus=True)``
(impedance.py's least squares, modulus-weighted like ours) started from guesses by hand (R0 =
Z' at the highest frequency, R1 = the span of Z', Q1 = 1e-5, n1 = 0.8, Q2 = 1e-3, n2 = 0.5).
Where our fit stops a CPE exponent at the lab's physical bound (n in [0.3, 1]), the reference
fit holds that exponent constant at the bound, since impedance.py's bounds differ; the other
parameters are fitted freely by both.
"""

from __future__ import annotations

import pytest

from measurements.analysis import eis
from measurements.parsers import parse_file
from tests.instrument_files import instrument_file


@pytest.fixture(autouse=True)
def _eager_celery_outside_integration():
    yield


# impedance.py 1.7.1 parameters (6 significant digits) and their 1-sigma confidence (`conf_`).
REFERENCE = {
    # ECSHackWeek/impedance.py@0b302ca9eabf data/exampleDataVersaStudio.par; n2 held at 0.3
    "impedance.py/exampleDataVersaStudio.par": {
        "fixed": {"n2": 0.3},
        "R0": (61.4549, 0.931),
        "R1": (1295.47, 40.9),
        "Q1": (0.000281378, 8.68e-06),
        "n1": (0.790038, 0.0138),
        "Q2": (0.00925985, 0.0015),
    },
    # ECSHackWeek/impedance.py@cf2b18ea841d data/exampleDataIvium.idf; n2 held at 1.0
    "impedance.py/exampleDataIvium.idf": {
        "fixed": {"n2": 1.0},
        "R0": (13.2339, 0.356),
        "R1": (90.1248, 3.55),
        "Q1": (0.000819408, 9.71e-05),
        "n1": (0.48823, 0.0158),
        "Q2": (0.0197852, 0.00723),
    },
    # PalmSens/palmsens-sdk@39c885dbc286 python/examples/...; n1 held at 1.0
    "palmsens/Demo CV DPV EIS IS-C electrode.pssession": {
        "fixed": {"n1": 1.0},
        "R0": (124.685, 1.59),
        "R1": (10586.1, 128.0),
        "Q1": (5.2461e-07, 7.21e-09),
        "Q2": (0.000240847, 1.51e-05),
        "n2": (0.479901, 0.0104),
    },
}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_fit_matches_impedance_py(name):
    reference = REFERENCE[name]
    result = parse_file(instrument_file(name))
    fit = eis.fit_impedance_frame(result.data, model=eis.GRAIN_BOUNDARY)

    assert fit.converged
    assert fit.n_points == result.data.height
    assert set(fit.at_bounds) == set(reference["fixed"])
    for parameter, bound in reference["fixed"].items():
        assert fit.value(parameter) == pytest.approx(bound, abs=1e-6)
    free = {k: v for k, v in reference.items() if k != "fixed"}
    for parameter, (value, sigma) in free.items():
        # Same optimum to within 0.1 % (two optimisers stopping at their own tolerances)...
        assert fit.value(parameter) == pytest.approx(value, rel=1e-3), parameter
        # ... and the same error bar to within 5 % (different Jacobian estimates).
        assert fit.stderr(parameter) == pytest.approx(sigma, rel=0.05), parameter
    r0, r1 = reference["R0"][0], reference["R1"][0]
    assert fit.ionic_resistance_ohm == pytest.approx(r0 + r1, rel=1e-3)


def test_conductivity_from_the_versastudio_fit():
    # The file's method gives Working Electrode Area (cm2)=1; a 0.06 cm thick sample:
    # sigma = L / (R A) = 0.06 / ((61.4549 + 1295.47) * 1) = 4.4218e-5 S/cm (hand calculation).
    result = parse_file(instrument_file("impedance.py/exampleDataVersaStudio.par"))
    fit = eis.fit_impedance_frame(result.data, model=eis.GRAIN_BOUNDARY)
    area = float(result.metadata["header:Working Electrode Area (cm2)"])
    sigma = eis.conductivity_s_cm(fit.ionic_resistance_ohm, 0.06, area)
    assert sigma == pytest.approx(4.4218e-5, rel=2e-4)


def test_auto_model_choice_on_these_spectra_is_the_two_arc_circuit_and_says_why():
    # These real spectra show two arcs before the low-frequency tail; the two-arc circuit's
    # AIC is lower by 59, 168 and 321 units (a difference above 10 is decisive).
    for name in REFERENCE:
        fit = eis.fit_impedance_frame(parse_file(instrument_file(name)).data)
        assert fit.model == eis.TWO_ARC, name
        assert fit.choice.startswith(f"chose {eis.TWO_ARC}: AIC"), name
        others = {c["model"]: c["aic"] for c in fit.candidates}
        assert others[eis.GRAIN_BOUNDARY] - fit.aic > 50, name
        assert set(fit.resistances) == {"bulk", "grain boundary", "total"}, name
