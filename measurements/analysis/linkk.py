"""Kramers-Kronig consistency of an impedance spectrum: the Lin-KK test.

Schönleber, Klotz and Ivers-Tiffée (Electrochim. Acta 131, 2014, 20-27): fit the spectrum
with M series RC elements whose time constants are fixed and log-spaced over the measured
range (plus a series resistance, inductance and capacitance, so that lead inductance and a
blocking-electrode spike need no RC element). Such a circuit is Kramers-Kronig consistent by
construction and the fit is linear, so it is fast and has one answer. M grows until the
share of negative resistances, mu = 1 - sum|R_k<0| / sum|R_k>=0|, falls below ``c``
(over-fitting starts there). What the circuit cannot follow - drift during the
measurement, non-linearity, an instrument artefact - stays in the residuals, relative
to |Z|, which are kept with the result and judged: residuals at the noise level mean the
spectrum is fit to interpret; larger ones, or a run of same-sign residuals, mean doubt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

ALGORITHM_VERSION = "lin-kk/1"
MU_CUTOFF = 0.85
# Judgement of the residuals (relative to |Z|): above these the spectrum is doubtful.
RMS_LIMIT = 0.01
MAX_LIMIT = 0.05


@dataclass(frozen=True)
class LinKK:
    """``residuals_real``/``residuals_imag`` are (Z - Z_KK) / |Z| per point, in the order of
    ``frequency_hz`` (as given); ``rms``/``max_abs`` summarise both parts together."""

    n_rc: int
    mu: float
    frequency_hz: list[float]
    residuals_real: list[float]
    residuals_imag: list[float]
    rms: float
    max_abs: float
    algorithm_version: str = ALGORITHM_VERSION

    def to_dict(self) -> dict[str, Any]:
        # The fields are already plain floats and lists of them (jsonable would walk them).
        return dict(self.__dict__)

    def warnings(self) -> list[dict[str, str]]:
        worst = self.frequency_hz[
            int(np.argmax(np.maximum(np.abs(self.residuals_real), np.abs(self.residuals_imag))))
        ]
        if self.rms > RMS_LIMIT or self.max_abs > MAX_LIMIT:
            return [
                {
                    "code": "linkk_residuals",
                    "message": (
                        f"Kramers-Kronig check (Lin-KK): the spectrum departs from a consistent "
                        f"impedance by {100 * self.rms:.2g} % rms, up to {100 * self.max_abs:.2g} "
                        f"% at {worst:.3g} Hz (limits {100 * RMS_LIMIT:g} % rms, "
                        f"{100 * MAX_LIMIT:g} % at any point): the sample drifted, the "
                        f"response was not linear or the data are noisy, so the fit is doubtful."
                    ),
                }
            ]
        return []


def lin_kk(freq: Any, z: Any, *, c: float = MU_CUTOFF, max_m: int = 50) -> LinKK:
    """Lin-KK test of a spectrum (``freq`` in Hz, ``z`` complex, instrument sign)."""
    freq = np.asarray(freq, dtype=float)
    z = np.asarray(z, dtype=complex)
    omega = 2 * np.pi * freq
    weight = 1.0 / np.abs(z)
    order = np.argsort(omega)
    # A series inductance only where the spectrum turns inductive at its highest frequency,
    # a series capacitance only where -Z'' rises towards its lowest (a blocking spike):
    # an unneeded term fights the RC elements and ends the search for M too early.
    extras = []
    if z.imag[order[-1]] > 0:
        extras.append(1j * omega)
    low = order[: min(3, omega.size)]
    if np.all(-z.imag[low] > 0) and -z.imag[low[0]] > -z.imag[low[-1]]:
        extras.append(-1j / omega)
    tau_min, tau_max = 1.0 / omega.max(), 1.0 / omega.min()
    limit = max(1, min(max_m, freq.size // 2 - 2))
    # mu alone stops too early on sharp (near-ideal RC) arcs, which a few widely spaced RC
    # elements can only follow with negative resistances: ask for two per decade at least.
    floor = min(limit, max(1, math.ceil(2 * math.log10(tau_max / tau_min))))

    def fit(m: int) -> tuple[np.ndarray, float, int]:
        return _fit_m(omega, z, weight, tau_min, tau_max, m, extras)

    # mu falls (roughly monotonically) as M grows: double M until mu <= c, then bisect for
    # the smallest such M. About 2 log2(M) linear fits instead of M.
    low, high, best = floor - 1, floor, fit(floor)
    while best[1] > c and high < limit:
        low, high = high, min(2 * high, limit)
        best = fit(high)
    while high - low > 1 and best[1] <= c:
        mid = (low + high) // 2
        trial = fit(mid)
        if trial[1] <= c:
            high, best = mid, trial
        else:
            low = mid
    # Still far from the data at that M (a sharp arc between two time constants): more RC
    # elements while that halves the residuals; noise alone never halves them.
    while best[2] < limit:
        trial = fit(min(2 * best[2], limit))
        if _rms(z, trial[0], weight) > 0.5 * _rms(z, best[0], weight):
            break
        best = trial
    z_fit, mu, m = best
    res = (z - z_fit) * weight
    both = np.concatenate([res.real, res.imag])
    return LinKK(
        n_rc=m,
        mu=float(mu),
        frequency_hz=freq.tolist(),
        residuals_real=res.real.tolist(),
        residuals_imag=res.imag.tolist(),
        rms=float(math.sqrt(np.mean(both**2))),
        max_abs=float(np.max(np.abs(both))),
    )


def _rms(z: np.ndarray, z_fit: np.ndarray, weight: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.abs((z - z_fit) * weight) ** 2)))


def _fit_m(
    omega: np.ndarray,
    z: np.ndarray,
    weight: np.ndarray,
    tau_min: float,
    tau_max: float,
    m: int,
    extras: list[np.ndarray],
) -> tuple[np.ndarray, float, int]:
    taus = np.array([tau_min]) if m == 1 else np.geomspace(tau_min, tau_max, m)
    rc = 1.0 / (1.0 + 1j * np.outer(omega, taus))  # Z of an RC with R = 1
    # Columns: R_k (RC elements), R0, then L (j w) and 1/C (-j / w) where needed.
    basis = np.column_stack([rc, np.ones_like(omega), *extras])
    scale = np.abs(basis).max(axis=0)
    a = basis / scale * weight[:, None]
    coef, *_ = np.linalg.lstsq(
        np.vstack([a.real, a.imag]),
        np.concatenate([(z * weight).real, (z * weight).imag]),
        rcond=None,
    )
    coef = coef / scale
    r_k = coef[:m]
    positive = np.sum(np.abs(r_k[r_k >= 0]))
    mu = 1.0 - np.sum(np.abs(r_k[r_k < 0])) / positive if positive > 0 else 0.0
    return basis @ coef, mu, m
