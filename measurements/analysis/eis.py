"""Equivalent-circuit fits of impedance spectra and the ionic conductivity they give.

Circuits (Z = Z' + jZ'', Z'' < 0 for capacitive behaviour, as in ``canonical.Z_IMAG_OHM``):

- ``"R0-p(R1,CPE1)-CPE2"``: a ceramic pellet (LAGP) between blocking electrodes. R0 is the
  bulk resistance (its arc lies above the measured frequencies), R1 || CPE1 the arc, taken to
  be the grain boundary, and CPE2 the blocking electrodes (low-frequency spike).
- ``"L-R0-CPE"``: a thin, low-resistance polymer membrane (SPE) where the lead inductance L
  shows at high frequency, R0 its resistance and CPE the blocking electrodes.

A constant-phase element has Z = 1 / (Q (jw)^n), Q in F s^(n-1).

The fit minimises residuals weighted by |Z| (modulus weighting, so every decade counts alike)
in log-parameter space for R, Q and L (positive, spanning decades) and linear space for n, with
an analytical Jacobian. Starting values come from the spectrum itself: fixed guesses leave
the optimiser far from the minimum, which makes fits slow or stuck in a local minimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import least_squares

from measurements import canonical as c
from measurements.analysis import AnalysisError
from measurements.analysis._util import finite_array, jsonable, require_frame, same_length

ALGORITHM_VERSION = "eis-fit/1"

GRAIN_BOUNDARY = "R0-p(R1,CPE1)-CPE2"
INDUCTIVE = "L-R0-CPE"
AUTO = "auto"
MODELS = (GRAIN_BOUNDARY, INDUCTIVE)

MIN_POINTS = 6
MAX_NFEV = 200

# Parameter names, and whether each is fitted as log(value) (True) or as value (False).
PARAMETERS: dict[str, tuple[tuple[str, bool], ...]] = {
    GRAIN_BOUNDARY: (
        ("R0", True),
        ("R1", True),
        ("Q1", True),
        ("n1", False),
        ("Q2", True),
        ("n2", False),
    ),
    INDUCTIVE: (("L", True), ("R0", True), ("Q", True), ("n", False)),
}
UNITS = {"R": "ohm", "Q": "F s^(n-1)", "n": "", "L": "H"}

# Physical bounds (values, not logs): wide enough for any cell, tight enough that a CPE cannot
# wander to 1e-30 and stall the optimiser.
_BOUNDS = {"R": (1e-6, 1e12), "Q": (1e-16, 1e4), "L": (1e-15, 1e-1), "n": (0.3, 1.0)}


@dataclass(frozen=True)
class EisFit:
    """Result of one equivalent-circuit fit.

    ``parameters`` maps name -> (value, standard error); the error is None when the Jacobian
    is singular (a parameter the data cannot determine). ``chi_square`` is the sum of squared
    modulus-weighted residuals, ``weighted_rms`` its root mean square (a relative error: 0.01
    means the model is 1 % off |Z| on average). ``ionic_resistance_ohm`` is R0 for L-R0-CPE and
    R0 + R1 for R0-p(R1,CPE1)-CPE2, where the arc is taken as the grain boundary. Parameters
    that stopped at a physical bound are listed in ``at_bounds`` and have no standard error
    (e.g. CPE2 of a spectrum without a low-frequency spike).
    """

    model: str
    parameters: dict[str, tuple[float, float | None]]
    ionic_resistance_ohm: float
    ionic_resistance_stderr_ohm: float | None
    chi_square: float
    weighted_rms: float
    aic: float
    n_points: int
    converged: bool
    at_bounds: tuple[str, ...]
    message: str
    algorithm_version: str = ALGORITHM_VERSION

    def value(self, name: str) -> float:
        return self.parameters[name][0]

    def stderr(self, name: str) -> float | None:
        return self.parameters[name][1]

    def to_dict(self) -> dict[str, Any]:
        out = jsonable(self)
        out["parameters"] = {
            name: {"value": jsonable(v), "stderr": jsonable(e), "unit": UNITS[name[0]]}
            for name, (v, e) in self.parameters.items()
        }
        return out


# --- impedance models -------------------------------------------------------------------------


def model_impedance(model: str, params: Mapping[str, Any], freq: Any) -> np.ndarray:
    """Complex impedance of ``model`` at frequencies ``freq`` (Hz).

    ``params`` maps parameter names to values, or to (value, stderr) as in ``EisFit.parameters``.
    """
    names = _names(model)
    values = [_scalar(params[name]) for name in names]
    omega = 2 * np.pi * np.asarray(freq, dtype=np.float64)
    return _impedance_and_jacobian(model, np.asarray(values), omega, want_jac=False)[0]


def _scalar(value: Any) -> float:
    return float(value[0] if isinstance(value, tuple | list) else value)


def _names(model: str) -> list[str]:
    if model not in PARAMETERS:
        raise AnalysisError(f"unknown circuit model {model!r}; choose one of {', '.join(MODELS)}")
    return [name for name, _ in PARAMETERS[model]]


def _impedance_and_jacobian(
    model: str, p: np.ndarray, omega: np.ndarray, *, want_jac: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Z(omega) and dZ/d(fit coordinate) (log for R, Q, L; linear for n), shape (N, P)."""
    log_jw = np.log(omega) + 0.5j * np.pi
    if model == INDUCTIVE:
        L, R0, Q, n = p
        z_cpe = np.exp(-n * log_jw) / Q
        z = 1j * omega * L + R0 + z_cpe
        if not want_jac:
            return z, None
        jac = np.column_stack(
            [1j * omega * L, np.full_like(z, R0), -z_cpe, -log_jw * z_cpe]
        )
        return z, jac
    R0, R1, Q1, n1, Q2, n2 = p
    y_cpe1 = Q1 * np.exp(n1 * log_jw)
    z_arc = 1.0 / (1.0 / R1 + y_cpe1)
    z_cpe2 = np.exp(-n2 * log_jw) / Q2
    z = R0 + z_arc + z_cpe2
    if not want_jac:
        return z, None
    # d(1/Y) = -Z^2 dY, with dY/dlnR1 = -1/R1, dY/dlnQ1 = Y_cpe, dY/dn1 = ln(jw) Y_cpe.
    zz = z_arc * z_arc
    jac = np.column_stack(
        [
            np.full_like(z, R0),
            zz / R1,
            -zz * y_cpe1,
            -zz * y_cpe1 * log_jw,
            -z_cpe2,
            -log_jw * z_cpe2,
        ]
    )
    return z, jac


# --- starting guesses -------------------------------------------------------------------------


def _low_frequency_cpe(omega: np.ndarray, minus_zi: np.ndarray) -> tuple[float, float]:
    """(Q, n) of a blocking CPE from the low-frequency tail: -Z'' ~ sin(n pi/2) / (Q w^n)."""
    tail = slice(-min(4, len(omega)), None)
    w, y = omega[tail], minus_zi[tail]
    n = 0.85
    if np.all(y > 0) and np.ptp(np.log(w)) > 0:
        n = float(np.clip(-np.polyfit(np.log(w), np.log(y), 1)[0], 0.5, 1.0))
    y_last = y[-1] if y[-1] > 0 else max(float(np.max(np.abs(minus_zi))), 1e-9)
    q = math.sin(n * math.pi / 2) / (w[-1] ** n * y_last)
    return q, n


def _arc_indices(minus_zi: np.ndarray) -> tuple[int, int]:
    """(apex, valley) indices (high -> low frequency) of the arc before the electrode spike."""
    smooth = minus_zi.copy()
    if len(smooth) >= 5:
        smooth[1:-1] = np.median(np.stack([minus_zi[:-2], minus_zi[1:-1], minus_zi[2:]]), axis=0)
    valley = len(smooth) - 1
    # Walk down the spike from the low-frequency end to the valley between arc and spike.
    while valley > 1 and smooth[valley - 1] < smooth[valley]:
        valley -= 1
    if valley == len(smooth) - 1 or valley <= 1:
        valley = len(smooth) - 1  # no spike: the arc runs to the last point
    apex = int(np.argmax(smooth[: valley + 1]))
    return apex, valley


def _guess_grain_boundary(omega: np.ndarray, z: np.ndarray) -> np.ndarray:
    zr, mzi = z.real, -z.imag
    apex, valley = _arc_indices(mzi)
    r0 = max(float(np.min(zr[: apex + 1])) * 0.9, 1e-3 * float(np.max(np.abs(z))))
    r1 = max(float(zr[valley]) - r0, 0.05 * r0)
    n1 = 0.85
    # Apex of an R||CPE arc: w_apex = (R1 Q1)^(-1/n).
    q1 = 1.0 / (r1 * omega[apex] ** n1)
    q2, n2 = _low_frequency_cpe(omega, mzi)
    if valley == len(omega) - 1:
        q2 = 1e3 / (omega[-1] * max(r1, 1e-3))  # no spike: CPE2 negligible at every frequency
    return np.array([r0, r1, q1, n1, q2, n2])


def _guess_inductive(omega: np.ndarray, z: np.ndarray) -> np.ndarray:
    zr, zi = z.real, z.imag
    zmax = float(np.max(np.abs(z)))
    # Lead inductance from the positive (inductive) high-frequency reactance, else a token value.
    inductive = zi[0] if zi[0] > 0 else 1e-3 * abs(zr[0])
    lead = max(inductive / omega[0], 1e-14)
    r0 = max(float(zr[int(np.argmin(np.abs(zi)))]), 1e-6 * zmax)
    q, n = _low_frequency_cpe(omega, -zi)
    return np.array([lead, r0, q, n])


_GUESSERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    GRAIN_BOUNDARY: _guess_grain_boundary,
    INDUCTIVE: _guess_inductive,
}


# --- fitting ----------------------------------------------------------------------------------


def fit_impedance(
    frequency_hz: Any, z_real_ohm: Any, z_imag_ohm: Any, *, model: str = AUTO
) -> EisFit:
    """Fit ``model`` ("R0-p(R1,CPE1)-CPE2", "L-R0-CPE" or "auto") to a spectrum.

    ``z_imag_ohm`` keeps the instrument's sign (negative for capacitive behaviour). ``"auto"``
    fits both circuits and keeps the one with the lower Akaike information criterion, which
    charges the grain-boundary circuit for its two extra parameters.
    """
    omega, z = _spectrum(frequency_hz, z_real_ohm, z_imag_ohm)
    if model == AUTO:
        fits = [_fit(m, omega, z) for m in MODELS]
        return min(fits, key=lambda f: (not f.converged, f.aic))
    _names(model)
    return _fit(model, omega, z)


def fit_impedance_frame(df: pl.DataFrame, *, model: str = AUTO) -> EisFit:
    """``fit_impedance`` on a DataFrame with the canonical EIS columns."""
    require_frame(df, c.EIS_COLUMNS, what="EIS fit")
    return fit_impedance(
        df[c.FREQUENCY_HZ].to_numpy(),
        df[c.Z_REAL_OHM].to_numpy(),
        df[c.Z_IMAG_OHM].to_numpy(),
        model=model,
    )


def _spectrum(freq: Any, zr: Any, zi: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated (omega, Z) sorted from high to low frequency."""
    f = finite_array(freq, "frequency_Hz")
    re = finite_array(zr, "z_real_ohm")
    im = finite_array(zi, "z_imag_ohm")
    same_length(frequency_Hz=f, z_real_ohm=re, z_imag_ohm=im)
    if f.size < MIN_POINTS:
        raise AnalysisError(f"EIS fit needs at least {MIN_POINTS} points, got {f.size}")
    if np.any(f <= 0):
        raise AnalysisError(f"frequency_Hz must be positive, got {float(f.min())}")
    z = re + 1j * im
    if np.any(np.abs(z) == 0):
        raise AnalysisError("EIS spectrum has a point with |Z| = 0")
    order = np.argsort(-f, kind="stable")
    return 2 * np.pi * f[order], z[order]


def _bounds(model: str) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = [], []
    for name, is_log in PARAMETERS[model]:
        a, b = _BOUNDS[name[0]]
        lo.append(math.log(a) if is_log else a)
        hi.append(math.log(b) if is_log else b)
    return np.array(lo), np.array(hi)


def _fit(model: str, omega: np.ndarray, z: np.ndarray) -> EisFit:
    is_log = np.array([lg for _, lg in PARAMETERS[model]])
    lo, hi = _bounds(model)
    guess = _GUESSERS[model](omega, z)
    x0 = np.where(is_log, np.log(np.maximum(guess, 1e-300)), guess)
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    weight = 1.0 / np.abs(z)

    def to_values(x: np.ndarray) -> np.ndarray:
        return np.where(is_log, np.exp(x), x)

    def residuals(x: np.ndarray) -> np.ndarray:
        zm, _ = _impedance_and_jacobian(model, to_values(x), omega, want_jac=False)
        d = (zm - z) * weight
        return np.concatenate([d.real, d.imag])

    def jacobian(x: np.ndarray) -> np.ndarray:
        _, jac = _impedance_and_jacobian(model, to_values(x), omega, want_jac=True)
        jac = jac * weight[:, None]
        return np.vstack([jac.real, jac.imag])

    sol = least_squares(
        residuals, x0, jac=jacobian, bounds=(lo, hi), x_scale="jac", max_nfev=MAX_NFEV
    )
    return _result(model, sol, to_values(sol.x), is_log, (lo, hi), len(omega))


def _covariance(jac: np.ndarray, chi2: float, n_params: int) -> np.ndarray | None:
    """Parameter covariance inv(J^T J) * s^2 in fit coordinates; None if J is singular."""
    dof = jac.shape[0] - n_params
    norms = np.linalg.norm(jac, axis=0)
    if dof <= 0 or jac.shape[1] == 0 or np.any(norms == 0):
        return None
    # Column scaling makes the condition number measure identifiability, not parameter units.
    jtj = (jac / norms).T @ (jac / norms)
    if np.linalg.cond(jtj) > 1e12:
        return None
    return np.linalg.inv(jtj) / np.outer(norms, norms) * (chi2 / dof)


def _value_covariance(
    sol: Any, values: np.ndarray, is_log: np.ndarray, free: np.ndarray, chi2: float
) -> np.ndarray | None:
    """Covariance of the parameter values; rows/columns of pinned parameters stay NaN.

    A parameter stopped at a bound has no standard error (the curvature there says nothing
    about it), so the covariance is taken over the free parameters only, with the
    degrees of freedom still charged for all of them.
    """
    cov = _covariance(sol.jac[:, free], chi2, len(values))
    if cov is None:
        return None
    # Delta method: d(value) = value * d(log value) for log-fitted parameters.
    scale = np.where(is_log, values, 1.0)[free]
    out = np.full((len(values), len(values)), np.nan)
    out[np.ix_(free, free)] = cov * np.outer(scale, scale)
    return out


def _result(
    model: str, sol: Any, values: np.ndarray, is_log: np.ndarray, bounds: tuple, n: int
) -> EisFit:
    names = _names(model)
    lo, hi = bounds
    free = np.flatnonzero((sol.x - lo > 1e-6 * (hi - lo)) & (hi - sol.x > 1e-6 * (hi - lo)))
    chi2 = float(np.sum(sol.fun**2))
    cov = _value_covariance(sol, values, is_log, free, chi2)
    errors = np.full(len(names), np.nan) if cov is None else np.sqrt(np.diag(cov))
    parameters = {
        name: (float(v), float(e) if np.isfinite(e) else None)
        for name, v, e in zip(names, values, errors, strict=True)
    }
    r_idx = [names.index("R0")] + ([names.index("R1")] if model == GRAIN_BOUNDARY else [])
    # A resistance pinned at its bound contributes no variance to the sum.
    r_free = [i for i in r_idx if i in free]
    r_var = np.nan if cov is None or not r_free else float(cov[np.ix_(r_free, r_free)].sum())
    m = 2 * n
    return EisFit(
        model=model,
        parameters=parameters,
        ionic_resistance_ohm=float(sum(values[i] for i in r_idx)),
        ionic_resistance_stderr_ohm=math.sqrt(r_var) if np.isfinite(r_var) else None,
        chi_square=chi2,
        weighted_rms=math.sqrt(chi2 / m),
        aic=m * math.log(max(chi2, 1e-300) / m) + 2 * len(names),
        n_points=n,
        converged=bool(sol.status > 0 and np.all(np.isfinite(values))),
        at_bounds=tuple(name for i, name in enumerate(names) if i not in free),
        message=str(sol.message),
    )


# --- conductivity -----------------------------------------------------------------------------


def conductivity_s_cm(resistance_ohm: float, thickness_cm: float, area_cm2: float) -> float:
    """Ionic conductivity sigma = L / (R A) in S/cm (L thickness in cm, A electrode area cm2).

    Raises AnalysisError (a ValueError) on a non-positive or non-finite input.
    """
    for name, value in (
        ("resistance_ohm", resistance_ohm),
        ("thickness_cm", thickness_cm),
        ("area_cm2", area_cm2),
    ):
        if not (isinstance(value, int | float | np.floating) and math.isfinite(value)):
            raise AnalysisError(f"{name} must be a finite number, got {value!r}")
        if value <= 0:
            raise AnalysisError(f"{name} must be positive, got {value}")
    return float(thickness_cm) / (float(resistance_ohm) * float(area_cm2))
