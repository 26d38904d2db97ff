"""Differential capacity dQ/dV of one charge or discharge.

Differentiating measured voltage directly (np.gradient of Q over V) fails on real data: the
cycler logs voltage in steps of 0.1-1 mV, the voltage jitters back and forth on a plateau, and
every repeated or reversed voltage gives a division by (almost) zero. Instead the charge is
counted into voltage bins:

1. Between two consecutive points the curve passes the charge dQ over the voltages between
   them; dQ is spread evenly over that interval (the exact derivative of the straight line
   through the two points), or put into one bin when the two voltages are equal.
2. The charge per bin divided by the bin width is dQ/dV on the bin's centre.
3. A Gaussian of standard deviation ``smooth_V`` smooths it (the grid extends 4 standard
   deviations beyond the data, so no charge is lost at the ends). By default ``smooth_V``
   follows the data's voltage noise: over a window of width W the noise of the reading
   changes dQ/dV by about sqrt(2) x noise / W (the voltage differences between points add
   up, so only the window's two ends carry noise), so the window is ``NOISE_FACTOR`` times
   the noise (5 % at 10x), at least ``SMOOTH_V`` and at most ``MAX_SMOOTH_V``. The noise is
   estimated from the median absolute second difference of the voltage in acquisition
   order (white noise of standard deviation s gives second differences of sqrt(6) s; a
   smooth curve logged densely gives almost none).

Every step keeps the charge: the integral of the result over voltage equals the capacity of
the half cycle (a property the tests check). Charge is counted positive; a discharge (voltage
falling while charge passes) gives negative dQ/dV, the usual sign in the literature.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from measurements.analysis import AnalysisError
from measurements.analysis._util import finite_array, require_within, same_length

BIN_V = 0.0025  # 2.5 mV: finer than the peaks of layered oxides (30-100 mV wide)
SMOOTH_V = 0.005  # 5 mV: at least, above the jitter of a cycler's voltage reading
MAX_SMOOTH_V = 0.025  # 25 mV: at most, or the peaks of layered oxides blur into each other
NOISE_FACTOR = 10.0
MAX_BINS = 20_000


def dqdv(
    capacity: np.ndarray,
    voltage: np.ndarray,
    *,
    bin_V: float = BIN_V,
    smooth_V: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(voltage grid in V, dQ/dV in capacity units per V) of one half cycle.

    ``capacity`` is the charge passed since the start of the half cycle (mAh or mAh/g, never
    decreasing), ``voltage`` the voltage at each point, both in acquisition order. The sign is
    that of the voltage change over the half cycle (negative for a discharge). ``smooth_V``
    None follows the voltage noise (module docstring); 0 does not smooth.
    """
    q = finite_array(capacity, "capacity", min_points=2)
    v = finite_array(voltage, "voltage", min_points=2)
    same_length(capacity=q, voltage=v)
    if smooth_V is None:
        smooth_V = float(np.clip(NOISE_FACTOR * voltage_noise(v), SMOOTH_V, MAX_SMOOTH_V))
    # A bin below a microvolt or above a volt, or smoothing over more than a volt, is not a
    # dQ/dV of a cell: refused before either sets the size of the grid.
    if not (1e-6 <= bin_V <= 1.0 and 0 <= smooth_V <= 1.0):
        raise AnalysisError(
            f"bin_V must be 1e-06 to 1 V and smooth_V 0 to 1 V, got {bin_V}, {smooth_V}"
        )
    # A cell voltage beyond a kilovolt is a corrupt value; near 1e300 the grid's start and end
    # round to the same number and the grid is empty.
    require_within(v, (-1e3, 1e3), lambda i: f"voltage {v[i]:.3g} V at point {i + 1}")
    dq = np.diff(q)
    if np.any(dq < -1e-9 * max(abs(q).max(), 1e-30)):
        raise AnalysisError("capacity must not decrease within a half cycle")
    dq = np.clip(dq, 0.0, None)
    pad = 4 * smooth_V + bin_V
    start = np.floor((v.min() - pad) / bin_V) * bin_V
    with np.errstate(over="ignore", invalid="ignore"):
        bins = np.ceil((v.max() + pad - start) / bin_V)  # inf for a voltage near 1e300
    if not bins <= MAX_BINS:
        raise AnalysisError(
            f"voltage spans {np.ptp(v):.3g} V: more than {MAX_BINS} bins of {bin_V} V"
        )
    edges = start + bin_V * np.arange(int(bins) + 1)
    charge = _charge_per_bin(dq, v[:-1], v[1:], edges)
    density = charge / bin_V
    if smooth_V > 0:
        density = gaussian_filter1d(density, smooth_V / bin_V, mode="constant")
    sign = -1.0 if v[-1] < v[0] else 1.0
    return 0.5 * (edges[:-1] + edges[1:]), sign * density


def voltage_noise(voltage: np.ndarray) -> float:
    """Standard deviation of the point-to-point noise of a voltage series (V), from the median
    absolute second difference (robust to the curve's bends and to steps)."""
    second = np.diff(np.asarray(voltage, dtype=np.float64), 2)
    if second.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(second)) / np.sqrt(6.0))


def _charge_per_bin(
    dq: np.ndarray, v0: np.ndarray, v1: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """Charge each bin receives when each dq is spread evenly over [min(v0,v1), max(v0,v1)].

    Built from the cumulative charge below each edge, C(e) = sum of dq x the share of its
    interval below e, which is piecewise linear in e: O((segments + bins) log segments).
    """
    lo, hi = np.minimum(v0, v1), np.maximum(v0, v1)
    width = hi - lo
    # A segment much narrower than a bin is a point: its charge goes to the bin of its voltage
    # (dividing by a near-zero width would lose precision in the sums below).
    point = width < 1e-6 * (edges[1] - edges[0])
    below = np.zeros(edges.size)
    if np.any(point):
        order = np.argsort(lo[point])
        cum = np.concatenate([[0.0], np.cumsum(dq[point][order])])
        below += cum[np.searchsorted(lo[point][order], edges, side="left")]
    spread = ~point
    if np.any(spread):
        # C(e) = sum over lo < e of d (e - lo)  -  sum over hi < e of d (e - hi), d = dq / width
        d = dq[spread] / width[spread]
        for ends, sign in ((lo[spread], 1.0), (hi[spread], -1.0)):
            order = np.argsort(ends)
            s_d = np.concatenate([[0.0], np.cumsum(d[order])])
            s_de = np.concatenate([[0.0], np.cumsum(d[order] * ends[order])])
            k = np.searchsorted(ends[order], edges, side="left")
            below += sign * (s_d[k] * edges - s_de[k])
    return np.diff(below)
