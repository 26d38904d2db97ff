"""Temperature dependence of ionic conductivity: Arrhenius and Vogel-Fulcher-Tammann fits.

- Arrhenius (ceramics such as LAGP): sigma = A exp(-Ea / kT), or in the sigma*T form
  sigma T = A exp(-Ea / kT). The two give slightly different Ea; the result says which was used.
- VFT (polymer electrolytes, whose ion motion follows the segmental motion of the chains):
  sigma = A T^-1/2 exp(-B / (T - T0)); the pseudo-activation energy is k_B B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.optimize import least_squares

from measurements.analysis import AnalysisError
from measurements.analysis._util import finite_array, jsonable, same_length

ALGORITHM_VERSION = "conductivity-temperature/1"
K_B_EV = 8.617333262e-5  # Boltzmann constant, eV/K
ZERO_CELSIUS_K = 273.15
FORMS = ("sigma", "sigmaT")


@dataclass(frozen=True)
class ArrheniusFit:
    """Linear fit of ln(sigma) (form "sigma") or ln(sigma T) (form "sigmaT") against 1/T.

    ``prefactor`` A is in S/cm for "sigma" and S K/cm for "sigmaT"; ``r_squared`` is that of
    the linearised fit.
    """

    form: str
    activation_energy_eV: float
    activation_energy_stderr_eV: float | None
    prefactor: float
    prefactor_stderr: float | None
    prefactor_unit: str
    r_squared: float
    n_points: int
    algorithm_version: str = ALGORITHM_VERSION

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


@dataclass(frozen=True)
class VftFit:
    """sigma = A T^-1/2 exp(-B / (T - T0)); pseudo-activation energy = k_B B in eV.

    ``rms_log_residual`` is the RMS of ln(sigma_fit / sigma) (0.01 = 1 % scatter).
    """

    pseudo_activation_energy_eV: float
    pseudo_activation_energy_stderr_eV: float | None
    b_k: float
    b_stderr_k: float | None
    t0_k: float
    t0_stderr_k: float | None
    prefactor_s_k05_cm: float
    prefactor_stderr_s_k05_cm: float | None
    r_squared: float
    rms_log_residual: float
    n_points: int
    converged: bool
    algorithm_version: str = ALGORITHM_VERSION

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


def _series(temperature_c: Any, sigma_s_cm: Any, min_points: int) -> tuple[np.ndarray, ...]:
    """Validated (T in K, sigma) arrays."""
    t_c = finite_array(temperature_c, "temperature_C")
    sigma = finite_array(sigma_s_cm, "sigma_S_cm")
    same_length(temperature_C=t_c, sigma_S_cm=sigma)
    if t_c.size < min_points:
        raise AnalysisError(f"fit needs at least {min_points} temperatures, got {t_c.size}")
    if np.any(sigma <= 0):
        raise AnalysisError(f"conductivity must be positive, got {float(sigma.min())}")
    t_k = t_c + ZERO_CELSIUS_K
    if np.any(t_k <= 0):
        raise AnalysisError(f"temperature below absolute zero: {float(t_c.min())} C")
    if np.unique(t_k).size < min_points:
        raise AnalysisError(f"fit needs at least {min_points} distinct temperatures")
    return t_k, sigma


def fit_arrhenius(temperature_c: Any, sigma_s_cm: Any, *, form: str = "sigma") -> ArrheniusFit:
    """Activation energy from ln(sigma) (or ln(sigma T)) = ln A - Ea / (k_B T).

    Needs three temperatures or more, so that the slope has a standard error.
    """
    if form not in FORMS:
        raise AnalysisError(f"unknown Arrhenius form {form!r}; choose 'sigma' or 'sigmaT'")
    t_k, sigma = _series(temperature_c, sigma_s_cm, 3)
    y = np.log(sigma * t_k) if form == "sigmaT" else np.log(sigma)
    reg = stats.linregress(1.0 / t_k, y)
    prefactor = math.exp(reg.intercept)
    return ArrheniusFit(
        form=form,
        activation_energy_eV=float(-reg.slope * K_B_EV),
        activation_energy_stderr_eV=float(reg.stderr * K_B_EV),
        prefactor=prefactor,
        prefactor_stderr=float(prefactor * reg.intercept_stderr),
        prefactor_unit="S K/cm" if form == "sigmaT" else "S/cm",
        r_squared=float(reg.rvalue**2),
        n_points=int(t_k.size),
    )


def _vft_linear(t_k: np.ndarray, y: np.ndarray, t0: float) -> tuple[np.ndarray, float]:
    """For fixed T0 the model y = ln A - B / (T - T0) is linear: ([ln A, B], SSE)."""
    design = np.column_stack([np.ones_like(t_k), -1.0 / (t_k - t0)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return coef, float(np.sum((design @ coef - y) ** 2))


def fit_vft(temperature_c: Any, sigma_s_cm: Any, *, t0_margin_k: float = 10.0) -> VftFit:
    """Vogel-Fulcher-Tammann fit with T0 bounded to [1 K, min(T) - ``t0_margin_k``].

    The starting T0 is the best of a grid scan (for fixed T0 the model is linear, so each grid
    point is one least-squares solve); ln A, B and T0 are then refined together, and their
    standard errors come from the Jacobian at the optimum. Needs four temperatures or more.
    """
    t_k, sigma = _series(temperature_c, sigma_s_cm, 4)
    t0_max = float(t_k.min()) - t0_margin_k
    if t0_max <= 1.0:
        raise AnalysisError(f"lowest temperature too low for a VFT fit: {t_k.min():.1f} K")
    y = np.log(sigma) + 0.5 * np.log(t_k)
    grid = np.linspace(1.0, t0_max, 60)
    t0_guess = grid[int(np.argmin([_vft_linear(t_k, y, t0)[1] for t0 in grid]))]
    (ln_a, b), _ = _vft_linear(t_k, y, t0_guess)

    def residuals(p: np.ndarray) -> np.ndarray:
        return p[0] - p[1] / (t_k - p[2]) - y

    def jacobian(p: np.ndarray) -> np.ndarray:
        d = t_k - p[2]
        return np.column_stack([np.ones_like(t_k), -1.0 / d, -p[1] / d**2])

    x0 = np.array([ln_a, max(b, 1.0), min(t0_guess, t0_max - 1e-6)])
    sol = least_squares(
        residuals, x0, jac=jacobian, bounds=([-np.inf, 0.0, 1.0], [np.inf, np.inf, t0_max])
    )
    return _vft_result(sol, y, t_k.size)


def _vft_result(sol: Any, y: np.ndarray, n: int) -> VftFit:
    ln_a, b, t0 = sol.x
    sse = float(np.sum(sol.fun**2))
    err = _stderrs(sol.jac, sse, n)
    sst = float(np.sum((y - y.mean()) ** 2))
    a = math.exp(ln_a)
    return VftFit(
        pseudo_activation_energy_eV=float(b * K_B_EV),
        pseudo_activation_energy_stderr_eV=None if err[1] is None else err[1] * K_B_EV,
        b_k=float(b),
        b_stderr_k=err[1],
        t0_k=float(t0),
        t0_stderr_k=err[2],
        prefactor_s_k05_cm=a,
        prefactor_stderr_s_k05_cm=None if err[0] is None else a * err[0],
        r_squared=1.0 - sse / sst if sst > 0 else float("nan"),
        rms_log_residual=math.sqrt(sse / n),
        n_points=n,
        converged=bool(sol.status > 0),
    )


def _stderrs(jac: np.ndarray, sse: float, n: int) -> list[float | None]:
    """sqrt(diag(inv(J^T J) * SSE / (n - p))); None where undetermined."""
    p = jac.shape[1]
    if n <= p:
        return [None] * p
    try:
        cov = np.linalg.inv(jac.T @ jac) * sse / (n - p)
    except np.linalg.LinAlgError:
        return [None] * p
    diag = np.diag(cov)
    return [float(math.sqrt(v)) if np.isfinite(v) and v >= 0 else None for v in diag]
