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


# --- outliers by leave-one-out -----------------------------------------------------------------

# A point is an outlier when its conductivity is off the Arrhenius line of the other points by
# more than OUTLIER_T times the others' scatter (studentised deleted residual in ln sigma) AND
# by more than a factor OUTLIER_FACTOR: the first keeps a noisy series from losing points, the
# second keeps a very clean one (scatter ~0) from losing a point that is 5 % off.
OUTLIER_T = 4.0
OUTLIER_FACTOR = 1.5
OUTLIER_MIN_POINTS = 4


@dataclass(frozen=True)
class PointCheck:
    """How far one point is from the Arrhenius line (ln sigma vs 1/T) of the other points.

    ``factor`` is sigma / sigma predicted by the others' fit (>1: above it, <1: below);
    ``studentised_residual`` is the deleted residual over its standard error (inf when the
    other points lie exactly on a line); both None where the others cannot be fitted.
    """

    index: int
    factor: float | None
    studentised_residual: float | None
    outlier: bool

    @property
    def times_off(self) -> float | None:
        """How many times off the others' fit, >= 1 whichever side the point is on."""
        if self.factor is None:
            return None
        return max(self.factor, 1.0 / self.factor)

    def describe(self) -> str:
        """ "8.1x off the fit of the other points (studentised residual 52, limit 4)"."""
        if self.times_off is None:
            return "not checked: too few other points to fit"
        side = "above" if (self.factor or 0) > 1 else "below"
        t = self.studentised_residual
        t_text = "inf" if t is None or not math.isfinite(t) else f"{abs(t):.3g}"
        return (
            f"{_times(self.times_off)} off ({side}) the Arrhenius fit of the other points "
            f"(studentised residual {t_text}; limits {OUTLIER_T:g} and {OUTLIER_FACTOR:g}x)"
        )

    def to_dict(self) -> dict[str, Any]:
        return jsonable({**jsonable(self), "times_off": self.times_off})


def _times(x: float) -> str:
    return f"{x:.2f}x" if x < 10 else f"{x:.0f}x" if x < 1000 else f"{x:.1e}x"


def _deleted_residual(x: np.ndarray, y: np.ndarray, i: int, others: np.ndarray) -> tuple:
    """(ln factor, studentised residual) of point i against the line through ``others``."""
    xo, yo = x[others], y[others]
    n = xo.size
    if n < 3:
        return None, None
    sxx = float(np.sum((xo - xo.mean()) ** 2))
    if sxx <= 0:
        return None, None
    slope = float(np.sum((xo - xo.mean()) * (yo - yo.mean())) / sxx)
    intercept = float(yo.mean() - slope * xo.mean())
    resid = y[i] - (intercept + slope * x[i])
    s2 = float(np.sum((yo - intercept - slope * xo) ** 2)) / (n - 2)
    se = math.sqrt(s2 * (1.0 + 1.0 / n + (x[i] - xo.mean()) ** 2 / sxx))
    # Others exactly on a line: any deviation is infinitely many standard errors off.
    t = resid / se if se > 0 else (math.copysign(math.inf, resid) if resid else 0.0)
    return float(resid), float(t)


def leave_one_out_outliers(
    temperature_c: Any,
    sigma_s_cm: Any,
    *,
    keep: Any = None,
    t_limit: float = OUTLIER_T,
    factor_limit: float = OUTLIER_FACTOR,
    min_points: int = OUTLIER_MIN_POINTS,
) -> list[PointCheck]:
    """For each point, fit ln sigma against 1/T through the other points and see how far the
    point is off that fit; one PointCheck per point, in input order.

    Points are removed one at a time, the worst first, and the rest checked again without it,
    so one wild point cannot hide or condemn the others; checking stops when fewer than
    ``min_points`` points remain, and at most a quarter of the points (at least one) are
    removed: a series with more "outliers" than that is not one line with a few bad points,
    and the fit's warnings say so instead. Points whose index is in ``keep`` (a user included them) are
    checked and may be reported as outliers but are never removed.
    """
    t_c = finite_array(temperature_c, "temperature_C")
    sigma = finite_array(sigma_s_cm, "sigma_S_cm")
    same_length(temperature_C=t_c, sigma_S_cm=sigma)
    if np.any(sigma <= 0):
        raise AnalysisError(f"conductivity must be positive, got {float(sigma.min())}")
    x = 1.0 / (t_c + ZERO_CELSIUS_K)
    y = np.log(sigma)
    kept = set() if keep is None else {int(k) for k in keep}
    active = np.ones(t_c.size, dtype=bool)
    checks: dict[int, PointCheck] = {}
    log_limit = math.log(factor_limit)
    max_removed = max(1, t_c.size // 4)

    def check(i: int) -> PointCheck:
        others = np.flatnonzero(active & (np.arange(t_c.size) != i))
        ln_f, t = _deleted_residual(x, y, i, others)
        if ln_f is None:
            return PointCheck(i, None, None, False)
        off = abs(t) > t_limit and abs(ln_f) > log_limit
        return PointCheck(i, math.exp(ln_f), t, bool(off))

    while True:
        current = {int(i): check(int(i)) for i in np.flatnonzero(active)}
        if active.sum() < min_points:
            # Too few to judge: report no point as an outlier.
            current = {i: PointCheck(i, None, None, False) for i in current}
            checks.update(current)
            break
        candidates = [c for i, c in current.items() if c.outlier and i not in kept]
        if not candidates or (~active).sum() >= max_removed:
            checks.update(current)
            break
        worst = max(candidates, key=lambda c: (abs(c.studentised_residual), c.times_off))
        checks[worst.index] = worst
        active[worst.index] = False
    return [checks[i] for i in range(t_c.size)]


# --- warnings on series fits -------------------------------------------------------------------

ARRHENIUS_MIN_R2 = 0.98
VFT_MAX_RMS_LOG = 0.05  # RMS of ln(sigma_fit / sigma): 5 % scatter
VFT_T0_MIN_K = 100.0
VFT_T0_BELOW_LOWEST_K = 30.0  # T0 this close to the lowest measured temperature is suspect


def _warning(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def arrhenius_warnings(fit: ArrheniusFit) -> list[dict[str, Any]]:
    """A poor straight line: the activation energy then describes no single process."""
    if fit.r_squared >= ARRHENIUS_MIN_R2:
        return []
    label = "σT" if fit.form == "sigmaT" else "σ"
    return [
        _warning(
            "arrhenius_poor_fit",
            f"The Arrhenius fit ({label} form) has R² = {fit.r_squared:.3f}, below "
            f"{ARRHENIUS_MIN_R2:g}: the points do not lie on one straight line of ln {label} "
            "against 1/T, so the activation energy is not trustworthy.",
            parameter="r_squared",
        )
    ]


def vft_warnings(fit: VftFit, temperature_c: Any) -> list[dict[str, Any]]:
    """Large scatter, a fit that did not converge, or a T0 no polymer would have."""
    warnings = []
    if not fit.converged:
        warnings.append(
            _warning(
                "vft_not_converged",
                "The VFT fit did not converge: its parameters are the last estimate, not a "
                "best fit.",
            )
        )
    if fit.rms_log_residual > VFT_MAX_RMS_LOG:
        warnings.append(
            _warning(
                "vft_poor_fit",
                f"The VFT fit leaves an RMS scatter of {100 * fit.rms_log_residual:.1f} % in σ, "
                f"above {100 * VFT_MAX_RMS_LOG:g} %: the points do not follow the VFT curve.",
                parameter="rms_log_residual",
            )
        )
    lowest_k = float(np.min(np.asarray(temperature_c, dtype=float))) + ZERO_CELSIUS_K
    t0_max = lowest_k - VFT_T0_BELOW_LOWEST_K
    if not VFT_T0_MIN_K <= fit.t0_k <= t0_max:
        warnings.append(
            _warning(
                "vft_t0_implausible",
                f"The VFT fit puts T0 at {fit.t0_k:.0f} K, outside the plausible range "
                f"{VFT_T0_MIN_K:.0f}-{t0_max:.0f} K (at least {VFT_T0_MIN_K:.0f} K and "
                f"{VFT_T0_BELOW_LOWEST_K:.0f} K below the lowest measured temperature): "
                "T0 is extrapolated from too little curvature, and the pseudo-activation "
                "energy depends on it.",
                parameter="t0_k",
            )
        )
    return warnings


# --- evaluating stored fits ---------------------------------------------------------------------


def arrhenius_sigma(fit: dict[str, Any], temperature_c: Any) -> np.ndarray:
    """σ (S/cm) at the temperatures from a stored Arrhenius fit (``ArrheniusFit.to_dict()``),
    in either form: σ = A exp(-Ea/kT), or σ = (A/T) exp(-Ea/kT) for the σT form."""
    t_k = np.asarray(temperature_c, dtype=np.float64) + ZERO_CELSIUS_K
    sigma = fit["prefactor"] * np.exp(-fit["activation_energy_eV"] / (K_B_EV * t_k))
    return sigma / t_k if fit.get("form") == "sigmaT" else sigma


def vft_sigma(fit: dict[str, Any], temperature_c: Any) -> np.ndarray:
    """σ (S/cm) at the temperatures from a stored VFT fit (``VftFit.to_dict()``)."""
    t_k = np.asarray(temperature_c, dtype=np.float64) + ZERO_CELSIUS_K
    return fit["prefactor_s_k05_cm"] / np.sqrt(t_k) * np.exp(-fit["b_k"] / (t_k - fit["t0_k"]))
