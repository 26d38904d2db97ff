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
    missing = [name for name in names if name not in params]
    if missing:
        raise AnalysisError(f"parameter {missing[0]!r} missing for model {model}")
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
    log_jw = np.log(omega) + 0.5j * np.pi  # ln(jw); (jw)^n = exp(n ln(jw))
    if model == INDUCTIVE:
        return _inductive(p, omega, log_jw, want_jac)
    return _grain_boundary(p, log_jw, want_jac)


def _inductive(
    p: np.ndarray, omega: np.ndarray, log_jw: np.ndarray, want_jac: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    lead, r0, q, n = p
    z_cpe = np.exp(-n * log_jw) / q
    z = 1j * omega * lead + r0 + z_cpe
    if not want_jac:
        return z, None
    return z, np.column_stack([1j * omega * lead, np.full_like(z, r0), -z_cpe, -log_jw * z_cpe])


def _grain_boundary(
    p: np.ndarray, log_jw: np.ndarray, want_jac: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    r0, r1, q1, n1, q2, n2 = p
    y_cpe1 = q1 * np.exp(n1 * log_jw)
    z_arc = 1.0 / (1.0 / r1 + y_cpe1)
    z_cpe2 = np.exp(-n2 * log_jw) / q2
    z = r0 + z_arc + z_cpe2
    if not want_jac:
        return z, None
    # d(1/Y) = -Z^2 dY, with dY/dlnR1 = -1/R1, dY/dlnQ1 = Y_cpe, dY/dn1 = ln(jw) Y_cpe.
    zz = z_arc * z_arc
    columns = [
        np.full_like(z, r0),
        zz / r1,
        -zz * y_cpe1,
        -zz * y_cpe1 * log_jw,
        -z_cpe2,
        -log_jw * z_cpe2,
    ]
    return z, np.column_stack(columns)


# --- starting guesses -------------------------------------------------------------------------


def _low_frequency_cpe(omega: np.ndarray, minus_zi: np.ndarray) -> tuple[float, float] | None:
    """(Q, n) of a blocking CPE from the low-frequency tail, -Z'' ~ sin(n pi/2) / (Q w^n),
    or None when -Z'' does not rise towards low frequency (no electrode spike)."""
    tail = slice(-min(4, len(omega)), None)
    w, y = omega[tail], minus_zi[tail]
    if not np.all(y > 0) or np.ptp(np.log(w)) == 0:
        return None
    n = float(-np.polyfit(np.log(w), np.log(y), 1)[0])
    if n < 0.3:
        return None
    n = min(n, 1.0)
    return math.sin(n * math.pi / 2) / (w[-1] ** n * y[-1]), n


def _median3(y: np.ndarray) -> np.ndarray:
    """Running median of three (ends kept), to stop single noisy points steering the guess."""
    out = y.copy()
    if y.size >= 5:
        out[1:-1] = np.median(np.stack([y[:-2], y[1:-1], y[2:]]), axis=0)
    return out


def _arc_end(zr: np.ndarray, mzi: np.ndarray, r0: float) -> int:
    """Index (high -> low frequency) where the arc meets the electrode spike.

    Seen from the high-frequency intercept R0, the direction of the spectrum points turns
    down along the arc and up again along the spike, so the end of the arc is where that
    angle is smallest. This works also where arc and spike overlap and -Z'' has no minimum.
    """
    dx = zr - r0
    # Points within noise of R0, or inductive ones (-Z'' <= 0), say nothing about the arc.
    usable = (dx > 0.02 * np.hypot(zr, mzi)) & (mzi > 0)
    angle = np.where(usable, np.arctan2(mzi, np.maximum(dx, 1e-300)), np.pi / 2)
    return int(np.argmin(_median3(angle)))


def _circle_intercepts(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Real-axis intercepts (left, right) of a circle fitted algebraically to arc points.

    A depressed (CPE) arc is a circle arc whose centre lies below the axis; its intercepts
    are R0 and R0 + R1 even when only part of the arc is inside the measured range.
    """
    if x.size < 4:
        return None
    design = np.column_stack([x, y, np.ones_like(x)])
    (d, e, f), *_ = np.linalg.lstsq(design, -(x * x + y * y), rcond=None)
    disc = d * d - 4 * f
    if not np.isfinite(disc) or disc <= 0:
        return None
    root = math.sqrt(disc)
    return (-d - root) / 2, (-d + root) / 2


def _arc_cpe(omega: np.ndarray, z_arc: np.ndarray, r1: float) -> tuple[float, float]:
    """(Q1, n1) from arc points: R1 / Z_arc - 1 = R1 Q1 (jw)^n, so its phase is n pi/2 and
    its modulus (w / w_c)^n; medians over the points resist noise."""
    ratio = r1 / z_arc - 1.0
    ok = np.isfinite(ratio) & (np.abs(ratio) > 0.05) & (np.abs(ratio) < 20)
    if np.count_nonzero(ok) < 2:
        return 1.0 / (r1 * omega[0] ** 0.85), 0.85
    n = float(np.clip(np.median(np.angle(ratio[ok])) / (np.pi / 2), 0.5, 1.0))
    q = float(np.median(np.abs(ratio[ok]) / omega[ok] ** n)) / r1
    return q, n


def _guess_grain_boundary(omega: np.ndarray, z: np.ndarray) -> np.ndarray:
    cpe2 = _low_frequency_cpe(omega, -z.imag)
    # Take the electrode spike out first, so the arc can be read off on its own.
    z_arc = z if cpe2 is None else z - np.exp(-cpe2[1] * np.log(1j * omega)) / cpe2[0]
    zr, mzi = z_arc.real, -z_arc.imag
    floor = 1e-3 * float(np.max(np.abs(z)))
    r0 = max(float(np.min(zr[: max(3, zr.size // 4)])), floor)
    end = _arc_end(zr, mzi, r0)
    r_total = float(zr[end])
    circle = _circle_intercepts(zr[: end + 1], mzi[: end + 1])
    if circle is not None and 0 < circle[0] <= r0 * 1.05 and circle[1] > circle[0]:
        r0, r_total = max(circle[0], floor), circle[1]
        end = _arc_end(zr, mzi, r0)
    r1 = max(r_total - r0, 0.05 * r0)
    q1, n1 = _arc_cpe(omega[: end + 1], z_arc[: end + 1] - r0, r1)
    # Without a spike CPE2 is negligible at every frequency: start it large.
    q2, n2 = cpe2 if cpe2 is not None else (1e3 / (omega[-1] * max(r1, 1e-3)), 0.8)
    return np.array([r0, r1, q1, n1, q2, n2])


def _guess_inductive(omega: np.ndarray, z: np.ndarray) -> np.ndarray:
    zr, zi = z.real, z.imag
    zmax = float(np.max(np.abs(z)))
    # Lead inductance from the positive (inductive) high-frequency reactance, else a token value.
    inductive = zi[0] if zi[0] > 0 else 1e-3 * abs(zr[0])
    lead = max(inductive / omega[0], 1e-14)
    r0 = max(float(zr[int(np.argmin(np.abs(zi)))]), 1e-6 * zmax)
    cpe = _low_frequency_cpe(omega, -zi)
    q, n = cpe if cpe is not None else (1e3 / (omega[-1] * r0), 0.8)
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
    """Fit from the data-derived guess; if that does not converge or ends with a CPE exponent
    at its lower bound (the usual sign of a local minimum, e.g. the arc fitted as the spike),
    retry from rescaled guesses and keep the lowest chi-square."""
    guess = _GUESSERS[model](omega, z)
    best = _solve(model, omega, z, guess)
    # n at its lower bound means a CPE is mimicking another element (e.g. the arc): suspect.
    # n = 1 (an ideal capacitor) or a huge CPE2 (no spike) are legitimate bound hits.
    lower_n = any(
        name.startswith("n") and v <= _BOUNDS["n"][0] + 1e-6
        for name, (v, _) in best.parameters.items()
    )
    if best.converged and not lower_n:
        return best
    for alternative in _alternative_guesses(model, guess):
        fit = _solve(model, omega, z, alternative)
        if (fit.converged, -fit.chi_square) > (best.converged, -best.chi_square):
            best = fit
    return best


def _alternative_guesses(model: str, guess: np.ndarray) -> list[np.ndarray]:
    """Rescaled starting points: the arc resistance (grain boundary) or the inductance."""
    index = 1 if model == GRAIN_BOUNDARY else 0  # R1 or L
    out = []
    for factor in (0.3, 3.0, 0.05):
        alt = guess.copy()
        alt[index] *= factor
        if model == GRAIN_BOUNDARY:
            alt[2] /= factor  # keep the apex frequency (R1 Q1)^(-1/n) roughly in place
        out.append(alt)
    return out


def _solve(model: str, omega: np.ndarray, z: np.ndarray, guess: np.ndarray) -> EisFit:
    is_log = np.array([lg for _, lg in PARAMETERS[model]])
    lo, hi = _bounds(model)
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
    resistance, resistance_err = _ionic_resistance(model, names, values, cov, free)
    m = 2 * n
    return EisFit(
        model=model,
        parameters=parameters,
        ionic_resistance_ohm=resistance,
        ionic_resistance_stderr_ohm=resistance_err,
        chi_square=chi2,
        weighted_rms=math.sqrt(chi2 / m),
        aic=m * math.log(max(chi2, 1e-300) / m) + 2 * len(names),
        n_points=n,
        converged=bool(sol.status > 0 and np.all(np.isfinite(values))),
        at_bounds=tuple(name for i, name in enumerate(names) if i not in free),
        message=str(sol.message),
    )


def _ionic_resistance(
    model: str, names: list[str], values: np.ndarray, cov: np.ndarray | None, free: np.ndarray
) -> tuple[float, float | None]:
    """R0 (+ R1, the arc taken as grain boundary) and its standard error, covariance included.

    A resistance pinned at its bound contributes no variance to the sum.
    """
    idx = [names.index("R0")] + ([names.index("R1")] if model == GRAIN_BOUNDARY else [])
    value = float(sum(values[i] for i in idx))
    idx_free = [i for i in idx if i in free]
    if cov is None or not idx_free:
        return value, None
    variance = float(cov[np.ix_(idx_free, idx_free)].sum())
    return value, math.sqrt(variance) if np.isfinite(variance) and variance >= 0 else None


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
