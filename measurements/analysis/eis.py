"""Equivalent-circuit fits of impedance spectra and the ionic conductivities they give.

Any circuit in impedance.py's string syntax can be fitted (``circuits.parse_circuit``); the
resistances that make the conductivity are named explicitly, e.g. ``"R0+R1"`` or, labelled,
``"bulk=R0+R1; grain boundary=R2; total=R0+R1+R2"``. Built-in circuits (Z'' < 0 for
capacitive behaviour, as in ``canonical.Z_IMAG_OHM``):

- ``"R0-p(R1,CPE1)-CPE2"``: a ceramic pellet (LAGP) between blocking electrodes whose bulk
  arc lies above the measured frequencies: R0 bulk, R1 || CPE1 the grain boundary, CPE2 the
  electrodes (low-frequency spike).
- ``"R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"``: a ceramic with both arcs in the window: R0 + R1 bulk
  (R0, the high-frequency intercept, cannot be told from bulk without a separate lead
  measurement), R2 grain boundary.
- ``"L-R0-CPE"``: a thin, low-resistance polymer membrane (SPE) where the lead inductance L
  shows at high frequency, R0 its resistance and CPE the blocking electrodes.

The fit minimises residuals weighted by |Z| (every decade counts alike) in log-parameter space
for positive parameters, with an analytical Jacobian. A local optimiser finds the minimum
nearest its start, so the fit runs from several starts: one read off the spectrum (the
high-frequency intercept, where the arcs end and the electrode spike begins, the arcs' apex
frequencies), variants of it, and the best of a cheap global sample around it. It stops as
soon as a fit describes the spectrum as well as the Lin-KK test says the data allow.

Every fit carries warnings a scientist can act on: a large fit error, parameters stopped at a
bound, conductivity resistances whose standard error exceeds their value, an arc whose apex
lies outside the measured window, a fitted resistance far from the real-axis value the
spectrum itself shows, and Lin-KK residuals that say the spectrum is not consistent.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import least_squares

from measurements import canonical as c
from measurements.analysis import AnalysisError
from measurements.analysis._util import (
    finite_array,
    jsonable,
    require_frame,
    require_within,
    same_length,
)
from measurements.analysis.circuits import Circuit, Element, parse_circuit, resistance_sum
from measurements.analysis.linkk import LinKK, lin_kk

ALGORITHM_VERSION = "eis-fit/2"

GRAIN_BOUNDARY = "R0-p(R1,CPE1)-CPE2"
TWO_ARC = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
INDUCTIVE = "L-R0-CPE"
AUTO = "auto"
MODELS = (GRAIN_BOUNDARY, TWO_ARC, INDUCTIVE)
# What each built-in circuit's conductivity is made of, labelled.
BUILT_IN_CONDUCTIVITY = {
    GRAIN_BOUNDARY: "bulk=R0; grain boundary=R1; total=R0+R1",
    TWO_ARC: "bulk=R0+R1; grain boundary=R2; total=R0+R1+R2",
    INDUCTIVE: "total=R0",
}
HEADLINE = "total"

MIN_POINTS = 6
MAX_NFEV = 200
# Wall-time budget of one circuit's multi-start search: a spectrum the optimiser cannot make
# sense of stops here with the best fit so far (flagged not converged), not after minutes.
FIT_BUDGET_S = 10.0
# |Z| a real cell can show: below a nano-ohm or above a peta-ohm is a unit or export error,
# and the 1/|Z| weights overflow float64 near 1e-300 (the fit then never finishes).
Z_RANGE_OHM = (1e-9, 1e15)
# Frequencies an impedance analyser covers (10 uHz to 10 GHz, with margin); outside, the
# Lin-KK time constants 1/omega overflow.
FREQUENCY_RANGE_HZ = (1e-7, 1e11)
# A fit whose error is within this factor (plus an absolute slack) of what the Lin-KK test
# reaches describes the spectrum as well as the data allow: no further starts are needed.
GOOD_ENOUGH_FACTOR = 1.3
GOOD_ENOUGH_SLACK = 0.002
RANDOM_STARTS = 24
# Warnings: a fit more than this far off |Z| on average does not describe the spectrum.
FIT_ERROR_LIMIT = 0.03
# A conductivity resistance more uncertain than this (one standard error) is flagged.
UNCERTAINTY_LIMIT = 0.05
# The fitted total resistance against the spectrum's own real-axis value at the arc end.
INTERCEPT_RATIO_LIMIT = 3.0
_LABEL = re.compile(r"^[A-Za-z][A-Za-z \-]{0,29}$")


@dataclass(frozen=True)
class EisFit:
    """Result of one equivalent-circuit fit.

    ``parameters`` maps name -> (value, standard error); the error is None when the Jacobian
    is singular (a parameter the data cannot determine) or the parameter stopped at a bound
    (listed in ``at_bounds``). ``resistances`` maps each conductivity label ("bulk", "grain
    boundary", "total") to its definition, value and standard error (covariances included);
    ``ionic_resistance_ohm`` is the headline one ("total" when defined, else the first).
    ``weighted_rms`` is the root mean square of the |Z|-weighted residuals (0.01: the model is
    1 % off |Z| on average). ``choice`` says why "auto" chose this circuit; ``linkk`` is the
    spectrum's Kramers-Kronig check; ``warnings`` what makes the result doubtful.
    """

    model: str
    parameters: dict[str, tuple[float, float | None]]
    resistances: dict[str, dict[str, Any]]
    ionic_resistance_ohm: float
    ionic_resistance_stderr_ohm: float | None
    chi_square: float
    weighted_rms: float
    aic: float
    bic: float
    n_points: int
    converged: bool
    at_bounds: tuple[str, ...]
    message: str
    starts: int = 1
    units: dict[str, str] = field(default_factory=dict)
    choice: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    linkk: dict[str, Any] | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    algorithm_version: str = ALGORITHM_VERSION

    def value(self, name: str) -> float:
        return self.parameters[name][0]

    def stderr(self, name: str) -> float | None:
        return self.parameters[name][1]

    def to_dict(self) -> dict[str, Any]:
        out = jsonable(self)
        out["parameters"] = {
            name: {"value": jsonable(v), "stderr": jsonable(e), "unit": self.units.get(name, "")}
            for name, (v, e) in self.parameters.items()
        }
        del out["units"]
        return out


# --- circuits and conductivity definitions ----------------------------------------------------


def circuit_of(model: str) -> Circuit:
    return parse_circuit(model)


def conductivity_definition(model: str, definition: str | None) -> dict[str, list[str]]:
    """``{label: [resistance names]}`` from ``"bulk=R0+R1; total=R0+R1+R2"`` or ``"R0+R1"``
    (labelled "total"); a built-in circuit has its own default. Raises AnalysisError."""
    circuit = circuit_of(model)
    text = (definition or "").strip() or BUILT_IN_CONDUCTIVITY.get(model.replace(" ", ""))
    if not text:
        raise AnalysisError(
            f"say which resistances of {circuit.text} make the conductivity, e.g. "
            f"{'+'.join(circuit.resistances[:2]) or 'R0'} (its resistances: "
            f"{', '.join(circuit.resistances) or 'none'})"
        )
    out: dict[str, list[str]] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        label, _, expression = part.rpartition("=")
        label = label.strip() or HEADLINE
        if not _LABEL.match(label):
            raise AnalysisError(
                f"{label!r} is not a usable label (letters, spaces and '-', up to 30)"
            )
        if label in out:
            raise AnalysisError(f"the label {label!r} is given twice")
        out[label] = resistance_sum(circuit, expression)
    if not out:
        raise AnalysisError("the conductivity definition names no resistance")
    return out


def validate_circuit(model: str, definition: str | None) -> str | None:
    """What is wrong with a user's circuit and conductivity definition, or None."""
    if model == AUTO:
        return (
            "a conductivity definition applies to a chosen circuit, not to 'auto'"
            if (definition or "").strip()
            else None
        )
    try:
        conductivity_definition(model, definition)
    except AnalysisError as exc:
        return str(exc)
    return None


# --- impedance ---------------------------------------------------------------------------------


def model_impedance(model: str, params: Mapping[str, Any], freq: Any) -> np.ndarray:
    """Complex impedance of ``model`` at frequencies ``freq`` (Hz).

    ``params`` maps parameter names to values, or to (value, stderr) as in ``EisFit.parameters``.
    """
    circuit = circuit_of(model)
    missing = [n for n in circuit.parameter_names if n not in params]
    if missing:
        raise AnalysisError(f"parameter {missing[0]!r} missing for model {model}")
    values = np.array([_scalar(params[n]) for n in circuit.parameter_names])
    return circuit.impedance(values, 2 * np.pi * np.asarray(freq, dtype=np.float64))[0]


def _scalar(value: Any) -> float:
    return float(value[0] if isinstance(value, tuple | list) else value)


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
    """Index (high -> low frequency) where the arcs meet the electrode spike.

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


@dataclass
class _Features:
    """What the spectrum itself says, read without a model."""

    lead_h: float
    spike: tuple[float, float] | None
    r_hf: float
    r_end: float  # real part where the arcs end (the spike starts), or at the lowest frequency
    end: int
    peaks: list[tuple[float, float]]  # (omega, height of -Z'') of the arcs, high f first
    arc_q_n: tuple[float, float]
    circle: bool
    r_low: float  # real part at the lowest frequency, the electrode spike taken out


def _features(omega: np.ndarray, z: np.ndarray, with_spike: bool) -> _Features:
    zi0 = z.imag[0]
    lead = zi0 / omega[0] if zi0 > 0 else 1e-3 * abs(z.real[0]) / omega[0]
    lead = max(lead, 1e-14)
    z_rest = z - 1j * omega * lead
    spike = _low_frequency_cpe(omega, -z_rest.imag) if with_spike else None
    if spike is not None:
        # Take the electrode spike out first, so the arcs can be read off on their own.
        z_rest = z_rest - np.exp(-spike[1] * np.log(1j * omega)) / spike[0]
    zr, mzi = z_rest.real, -z_rest.imag
    floor = 1e-3 * float(np.min(np.abs(z)))  # the smallest |Z|, never the largest
    r_hf = max(float(np.min(zr[: max(3, zr.size // 4)])), floor)
    end = _arc_end(zr, mzi, r_hf) if spike is not None else zr.size - 1
    r_end = float(zr[end])
    circle = _circle_intercepts(zr[: end + 1], mzi[: end + 1])
    used_circle = False
    if circle is not None and 0 < circle[0] <= r_hf * 1.05 and r_end * 0.5 < circle[1]:
        r_hf, r_end, used_circle = max(circle[0], floor), circle[1], True
    r_arc = max(r_end - r_hf, 0.05 * r_hf)
    q, n = _arc_cpe(omega[: end + 1], z_rest[: end + 1] - r_hf, r_arc)
    # Arc apexes: local maxima of -Z'' over the whole spectrum, the spike taken out (the arc
    # end read above can be fooled by noise where a lead inductance was subtracted).
    smooth = _median3(mzi)
    least = 0.05 * max(r_end - r_hf, float(zr[-1]) - r_hf, 0.0)
    peaks = [
        (float(omega[i]), float(smooth[i]))
        for i in range(1, smooth.size - 1)
        if smooth[i] > least and smooth[i] >= smooth[i - 1] and smooth[i] > smooth[i + 1]
    ]
    return _Features(
        lead, spike, r_hf, max(r_end, r_hf * 1.001), end, peaks, (q, n), used_circle, float(zr[-1])
    )


class _FeatureCache:
    """The spectrum's features, read once per spectrum (with and without a spike)."""

    def __init__(self, omega: np.ndarray, z: np.ndarray):
        self.omega, self.z = omega, z
        self.seen: dict[bool, _Features] = {}

    def __call__(self, with_spike: bool) -> _Features:
        if with_spike not in self.seen:
            self.seen[with_spike] = _features(self.omega, self.z, with_spike)
        return self.seen[with_spike]


def _role(term) -> str:
    """What a top-level series term is: series R, lead L, spike (C/CPE), arc, other."""
    if isinstance(term, Element):
        return {"R": "series", "L": "lead", "C": "spike", "CPE": "spike"}.get(term.kind, "other")
    if term.parallel and len(term.children) == 2:
        kinds = sorted(ch.kind for ch in term.children if isinstance(ch, Element))
        if len(kinds) == 2 and kinds[0] in ("C", "CPE") and kinds[1] == "R":
            return "arc"
    return "other"


def _elements_in(term) -> list[Element]:
    if isinstance(term, Element):
        return [term]
    return [el for child in term.children for el in _elements_in(child)]


def _starts(
    circuit: Circuit, omega: np.ndarray, z: np.ndarray, features: _FeatureCache | None = None
) -> list[np.ndarray]:
    """Starting points read off the spectrum, most plausible first."""
    terms = circuit.top_level()
    roles = [_role(t) for t in terms]
    feat = (features or _FeatureCache(omega, z))("spike" in roles)
    arcs = [t for t, r in zip(terms, roles, strict=True) if r == "arc"]
    span = feat.r_end - feat.r_hf
    w_mid = math.sqrt(omega[0] * omega[-1])
    starts = []
    variants = _arc_variants(feat, len(arcs), span, omega)
    # Where the arc end is hard to see (an inductive lead over a small arc), the real part
    # at the lowest frequency, the spike taken out, is a second reading of the arcs' span.
    span_low = feat.r_low - feat.r_hf
    if arcs and span_low > 0 and not 0.8 < span_low / max(span, 1e-300) < 1.25:
        variants += _arc_variants(feat, len(arcs), span_low, omega)[:2]
    for variant in variants:
        p = np.zeros(len(circuit.parameters))
        n_series = roles.count("series")
        for term, role in zip(terms, roles, strict=True):
            if role == "series":
                p[term.first] = feat.r_hf / n_series
            elif role == "lead":
                p[term.first] = feat.lead_h
            elif role == "spike":
                _set_capacitive(p, term, *_spike_q_n(feat, omega, span))
            elif role == "arc":
                r, w_c, n = variant[arcs.index(term)]
                for el in term.children:
                    if el.kind == "R":
                        p[el.first] = r
                    else:
                        _set_capacitive(p, el, 1.0 / (r * w_c**n), n)
            else:
                _generic(p, _elements_in(term), max(span, feat.r_hf), w_mid, omega)
        starts.append(p)
    return starts


def _spike_q_n(feat: _Features, omega: np.ndarray, span: float) -> tuple[float, float]:
    if feat.spike is not None:
        return feat.spike
    # No spike in the data: start the element large, i.e. negligible at every frequency.
    return 1e3 / (omega[-1] * max(span, feat.r_hf, 1e-3)), 0.8


def _set_capacitive(p: np.ndarray, el: Element, q: float, n: float) -> None:
    """A CPE takes (Q, n); a capacitor C takes Q as its capacitance (n = 1)."""
    if el.kind == "CPE":
        p[el.first], p[el.first + 1] = q, n
    else:
        p[el.first] = q


def _generic(p: np.ndarray, elements: list[Element], r: float, w_mid: float, omega) -> None:
    """Rough values for elements of a structure the guesser does not recognise: resistances
    share ``r`` and capacitive elements put their time constant mid-window."""
    n_r = max(1, sum(el.kind in ("R", "Wo", "Ws") for el in elements))
    for el in elements:
        i = el.first
        if el.kind == "R":
            p[i] = r / n_r
        elif el.kind == "C":
            p[i] = 1.0 / (w_mid * r / n_r)
        elif el.kind == "CPE":
            p[i], p[i + 1] = 1.0 / (w_mid**0.85 * r / n_r), 0.85
        elif el.kind == "L":
            p[i] = 1e-3 * r / omega[0]
        elif el.kind == "W":
            p[i] = r * math.sqrt(w_mid)
        else:
            p[i], p[i + 1] = r / n_r, 1.0 / w_mid


def _arc_variants(
    feat: _Features, k: int, span: float, omega: np.ndarray
) -> list[list[tuple[float, float, float]]]:
    """Each variant gives every arc (resistance, apex angular frequency, n), high f first."""
    if k == 0:
        return [[]]
    q, n = feat.arc_q_n
    span = max(span, 1e-9)
    if k == 1:
        w_c = (1.0 / (span * q)) ** (1.0 / n)
        return [[(span * f, w_c / f ** (1 / n), n)] for f in (1.0, 0.3, 3.0, 0.05)]
    decade = 10.0**1.5
    peaks = sorted(feat.peaks, key=lambda pk: -pk[1])[:k]
    peaks.sort(key=lambda pk: -pk[0])
    if len(peaks) >= k:
        heights = np.array([h for _, h in peaks])
        shares = heights / heights.sum()
        apexes = [w for w, _ in peaks]
        base = [(span * s, w, 0.85) for s, w in zip(shares, apexes, strict=True)]
    else:
        w0 = peaks[0][0] if peaks else math.sqrt(omega[0] * omega[feat.end])
        apexes = [w0 / decade**i for i in range(k)]
        base = [(span / k, w, 0.85) for w in apexes]
    variants = [base]
    w_top = omega[0]
    for shares in ((0.2, 0.8), (0.8, 0.2), (0.5, 0.5)):
        if k == 2:
            variants.append(
                [(span * s, w, 0.85) for s, (_, w, _) in zip(shares, base, strict=True)]
            )
    # The first arc above the window (only its tail shows), the second where the data peak.
    w_low = base[-1][1] if len(peaks) else math.sqrt(omega[0] * omega[feat.end])
    variants.append(
        [(span * 0.5, w_top * 3, 0.85)] + [(span * 0.5 / (k - 1), w_low, 0.85)] * (k - 1)
    )
    return variants


# --- fitting ----------------------------------------------------------------------------------


def fit_impedance(
    frequency_hz: Any,
    z_real_ohm: Any,
    z_imag_ohm: Any,
    *,
    model: str = AUTO,
    conductivity: str | None = None,
) -> EisFit:
    """Fit ``model`` (a circuit string, or "auto") to a spectrum.

    ``z_imag_ohm`` keeps the instrument's sign (negative for capacitive behaviour).
    ``conductivity`` names the resistances that make the conductivity (built-in circuits
    have their own). ``"auto"`` fits every built-in circuit and keeps the one with the lowest
    Akaike information criterion, which charges a circuit for each extra parameter.
    """
    omega, z = _spectrum(frequency_hz, z_real_ohm, z_imag_ohm)
    check = lin_kk(omega / (2 * np.pi), z)
    features = _FeatureCache(omega, z)
    if model == AUTO:
        fits, failures = [], []
        for m in MODELS:
            try:
                fits.append(_fit(m, conductivity_definition(m, None), features, check))
            except AnalysisError as exc:  # one circuit breaking down leaves the others
                failures.append(str(exc))
        if not fits:
            raise AnalysisError(failures[0])
        best, choice, candidates = _choose(fits)
        return _finish(best, check, features, choice=choice, candidates=candidates)
    definition = conductivity_definition(model, conductivity)
    return _finish(_fit(model, definition, features, check), check, features)


def fit_impedance_frame(
    df: pl.DataFrame, *, model: str = AUTO, conductivity: str | None = None
) -> EisFit:
    """``fit_impedance`` on a DataFrame with the canonical EIS columns."""
    require_frame(df, c.EIS_COLUMNS, what="EIS fit")
    return fit_impedance(
        df[c.FREQUENCY_HZ].to_numpy(),
        df[c.Z_REAL_OHM].to_numpy(),
        df[c.Z_IMAG_OHM].to_numpy(),
        model=model,
        conductivity=conductivity,
    )


def _spectrum(freq: Any, zr: Any, zi: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated (omega, Z) sorted from high to low frequency."""
    f = finite_array(freq, "frequency_Hz")
    re_ = finite_array(zr, "z_real_ohm")
    im = finite_array(zi, "z_imag_ohm")
    same_length(frequency_Hz=f, z_real_ohm=re_, z_imag_ohm=im)
    if f.size < MIN_POINTS:
        raise AnalysisError(f"EIS fit needs at least {MIN_POINTS} points, got {f.size}")
    if np.any(f <= 0):
        raise AnalysisError(f"frequency_Hz must be positive, got {float(f.min())}")
    # Named by the file's row (1-based, before sorting) and frequency.
    require_within(f, FREQUENCY_RANGE_HZ, lambda i: f"frequency {f[i]:.3g} Hz in row {i + 1}")
    z = re_ + 1j * im
    if np.any(np.abs(z) == 0):
        raise AnalysisError("EIS spectrum has a point with |Z| = 0")
    modulus = np.abs(z)
    require_within(
        modulus,
        Z_RANGE_OHM,
        lambda i: f"|Z| = {modulus[i]:.3g} ohm at {f[i]:.6g} Hz (row {i + 1})",
    )
    order = np.argsort(-f, kind="stable")
    return 2 * np.pi * f[order], z[order]


class _Problem:
    """One circuit against one spectrum, in fit coordinates (log for positive parameters)."""

    def __init__(self, model: str, omega: np.ndarray, z: np.ndarray):
        self.model = model
        self.circuit = circuit_of(model)
        self.omega, self.z = omega, z
        self.weight = 1.0 / np.abs(z)
        self.is_log = np.array([p.is_log for p in self.circuit.parameters])
        bounds = np.array([p.bounds for p in self.circuit.parameters])
        self.lo = np.where(self.is_log, np.log(bounds[:, 0]), bounds[:, 0])
        self.hi = np.where(self.is_log, np.log(bounds[:, 1]), bounds[:, 1])

    def to_x(self, values: np.ndarray) -> np.ndarray:
        x = np.where(self.is_log, np.log(np.maximum(values, 1e-300)), values)
        return np.clip(x, self.lo + 1e-9, self.hi - 1e-9)

    def values(self, x: np.ndarray) -> np.ndarray:
        return np.where(self.is_log, np.exp(x), x)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            d = (self.circuit.impedance(self.values(x), self.omega)[0] - self.z) * self.weight
        out = np.concatenate([d.real, d.imag])
        return np.where(np.isfinite(out), out, 1e6)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            _, jac = self.circuit.impedance(self.values(x), self.omega, jacobian=True)
        jac = jac * self.weight[:, None]
        out = np.vstack([jac.real, jac.imag])
        return np.where(np.isfinite(out), out, 0.0)

    def cost(self, x: np.ndarray) -> float:
        with np.errstate(over="ignore"):  # an overflowing start costs inf: ranked last
            return float(np.sum(self.residuals(x) ** 2))

    def solve(self, x0: np.ndarray):
        """A local fit from ``x0``; None when the optimiser breaks down on this start (an
        overflow in its linear algebra), so the next start is tried instead."""
        try:
            with np.errstate(all="ignore"):
                return least_squares(
                    self.residuals,
                    x0,
                    jac=self.jacobian,
                    bounds=(self.lo, self.hi),
                    x_scale="jac",
                    max_nfev=MAX_NFEV,
                )
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            return None


def _fit(
    model: str, definition: dict[str, list[str]], features: _FeatureCache, check: LinKK
) -> EisFit:
    """Local fits from the data-derived starts, then from the best of a random sample around
    the first; stops at the first fit as good as the Lin-KK test says the data allow."""
    omega, z = features.omega, features.z
    problem = _Problem(model, omega, z)
    target = (GOOD_ENOUGH_FACTOR * check.rms + GOOD_ENOUGH_SLACK) ** 2 * 2 * omega.size
    starts = [problem.to_x(s) for s in _starts(problem.circuit, omega, z, features)]
    best, tried = None, 0
    deadline = time.monotonic() + FIT_BUDGET_S
    for x0 in _chain(starts, lambda: _sampled_starts(problem, starts[0])):
        sol = problem.solve(x0)
        tried += 1
        if sol is not None and (best is None or _better(sol, best)):
            best = sol
        if best is not None and best.cost * 2 <= target and _credible(problem, best):
            break
        if time.monotonic() > deadline:
            break
    if best is None:
        raise AnalysisError(
            f"the {model} fit failed from all {tried} starting points (numerical overflow): "
            "check the impedance values of the file"
        )
    return _result(problem, best, definition, tried)


def _chain(first: list[np.ndarray], more: Callable[[], list[np.ndarray]]) -> Iterator[np.ndarray]:
    """``first``, then ``more()``: the random sample is only drawn when the first fail."""
    yield from first
    yield from more()


def _sampled_starts(problem: _Problem, x0: np.ndarray, keep: int = 3) -> list[np.ndarray]:
    """A cheap global step: random points within a decade or two of ``x0``, ranked by their
    cost without optimising; the best few become starts."""
    rng = np.random.default_rng(0)  # fixed: the same spectrum always gives the same fit
    spread = np.where(problem.is_log, 2.5, 0.0)
    samples = x0 + rng.normal(size=(RANDOM_STARTS, x0.size)) * spread
    samples = np.where(problem.is_log, samples, rng.uniform(0.5, 1.0, size=samples.shape))
    samples = np.clip(samples, problem.lo + 1e-9, problem.hi - 1e-9)
    costs = [problem.cost(x) for x in samples]
    return [samples[i] for i in np.argsort(costs)[:keep]]


def _better(a, b) -> bool:
    return (a.status > 0, -a.cost) > (b.status > 0, -b.cost)


def _credible(problem: _Problem, sol) -> bool:
    """No CPE exponent at its lower bound: the usual sign of one element mimicking another."""
    return not any(
        p.unit == "" and x <= lo + 1e-6
        for p, x, lo in zip(problem.circuit.parameters, sol.x, problem.lo, strict=True)
    )


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


def _result(problem: _Problem, sol, definition: dict[str, list[str]], tried: int) -> EisFit:
    names = problem.circuit.parameter_names
    values = problem.values(sol.x)
    width = problem.hi - problem.lo
    free = np.flatnonzero((sol.x - problem.lo > 1e-6 * width) & (problem.hi - sol.x > 1e-6 * width))
    chi2 = float(np.sum(sol.fun**2))
    # A parameter at a bound has no standard error (the curvature there says nothing about
    # it): the covariance is over the free parameters, with the degrees of freedom still
    # charged for all of them. Delta method: d(value) = value d(log value).
    cov = _covariance(sol.jac[:, free], chi2, len(values))
    full = np.full((len(values), len(values)), np.nan)
    if cov is not None:
        scale = np.where(problem.is_log, values, 1.0)[free]
        full[np.ix_(free, free)] = cov * np.outer(scale, scale)
    errors = np.sqrt(np.abs(np.diag(full)))
    parameters = {
        name: (float(v), float(e) if np.isfinite(e) else None)
        for name, v, e in zip(names, values, errors, strict=True)
    }
    resistances = {}
    for label, parts in definition.items():
        idx = [names.index(p) for p in parts]
        variance = float(np.nansum(full[np.ix_(idx, idx)])) if cov is not None else math.nan
        free_idx = [i for i in idx if i in free]
        stderr = (
            math.sqrt(variance) if free_idx and math.isfinite(variance) and variance >= 0 else None
        )
        resistances[label] = {
            "definition": "+".join(parts),
            "value": float(sum(values[i] for i in idx)),
            "stderr": stderr,
        }
    headline = resistances.get(HEADLINE) or next(iter(resistances.values()))
    m, k = 2 * len(problem.omega), len(names)
    log_term = m * math.log(max(chi2, 1e-300) / m)
    return EisFit(
        model=problem.model,
        parameters=parameters,
        resistances=resistances,
        ionic_resistance_ohm=headline["value"],
        ionic_resistance_stderr_ohm=headline["stderr"],
        chi_square=chi2,
        weighted_rms=math.sqrt(chi2 / m),
        aic=log_term + 2 * k,
        bic=log_term + k * math.log(m),
        n_points=len(problem.omega),
        converged=bool(sol.status > 0 and np.all(np.isfinite(values))),
        at_bounds=tuple(name for i, name in enumerate(names) if i not in free),
        message=str(sol.message),
        starts=tried,
        units={p.name: p.unit for p in problem.circuit.parameters},
    )


# --- choosing and judging ---------------------------------------------------------------------


def _choose(fits: list[EisFit]) -> tuple[EisFit, str, list[dict[str, Any]]]:
    """Lowest AIC among converged fits; a simpler circuit within 2 AIC units of it is kept
    instead (the data cannot tell them apart, and its parameters are better determined)."""
    ranked = sorted(fits, key=lambda f: (not f.converged, f.aic))
    best = ranked[0]
    simpler = [
        f
        for f in ranked
        if f.converged and f.aic - best.aic < 2 and len(f.parameters) < len(best.parameters)
    ]
    chosen = min(simpler, key=lambda f: len(f.parameters)) if simpler else best
    others = [
        f"{f.model} {f.aic:+.1f} ({f.aic - chosen.aic:+.1f}"
        f"{', did not converge' if not f.converged else ''})"
        for f in ranked
        if f is not chosen
    ]
    why = "the lowest Akaike information criterion (AIC)"
    if chosen is not best:
        why = (
            f"within 2 AIC units of {best.model} ({best.aic:+.1f}) with fewer parameters: "
            "the data cannot tell them apart and the simpler circuit's values are better "
            "determined"
        )
    choice = f"chose {chosen.model}: AIC {chosen.aic:+.1f}, {why}; others: {'; '.join(others)}"
    candidates = [
        {
            "model": f.model,
            "aic": f.aic,
            "bic": f.bic,
            "weighted_rms": f.weighted_rms,
            "converged": f.converged,
            "ionic_resistance_ohm": f.ionic_resistance_ohm,
        }
        for f in ranked
    ]
    return chosen, choice, jsonable(candidates)


def _finish(
    fit: EisFit,
    check: LinKK,
    features: _FeatureCache,
    *,
    choice: str | None = None,
    candidates: list | None = None,
) -> EisFit:
    warnings = [_sentence(w) for w in _fit_warnings(fit, features) + check.warnings()]
    return EisFit(
        **{
            **fit.__dict__,
            "choice": choice,
            "candidates": candidates or [],
            "linkk": check.to_dict(),
            "warnings": warnings,
        }
    )


def _sentence(warning: dict[str, str]) -> dict[str, str]:
    """Messages read as sentences when several are shown one after another."""
    text = warning["message"].strip()
    text = text[:1].upper() + text[1:]
    return {**warning, "message": text if text.endswith(".") else text + "."}


def _fit_warnings(fit: EisFit, features: _FeatureCache) -> list[dict[str, str]]:
    out = []

    def warn(code: str, message: str, **extra: str) -> None:
        out.append({"code": code, "message": message, **extra})

    if not fit.converged:
        warn("fit_not_converged", f"The fit did not converge ({fit.message}).")
    if fit.weighted_rms > FIT_ERROR_LIMIT:
        warn(
            "fit_error",
            f"the circuit {fit.model} is {100 * fit.weighted_rms:.2g} % off |Z| on average "
            f"(limit {100 * FIT_ERROR_LIMIT:g} %): it does not describe this spectrum, so its "
            "resistances are doubtful.",
        )
    in_definition = {p for r in fit.resistances.values() for p in r["definition"].split("+")}
    for name in fit.at_bounds:
        value = fit.value(name)
        legit = (fit.units.get(name) == "" and value >= 0.999) or (
            name not in in_definition and fit.units.get(name) in ("F s^(n-1)", "F")
        )
        if not legit:
            warn(
                "parameter_at_bound",
                f"parameter {name} stopped at the limit of its range ({value:.3g}): the spectrum "
                "does not "
                "determine it, or the circuit has an element the data do not show.",
                parameter=name,
            )
    for label, r in fit.resistances.items():
        if r["stderr"] is not None and UNCERTAINTY_LIMIT * r["value"] < r["stderr"] <= r["value"]:
            warn(
                "resistance_uncertain",
                f"the {label} resistance {r['value']:.4g} Ω is uncertain by ±"
                f"{100 * r['stderr'] / r['value']:.2g} % (one standard error; limit "
                f"{100 * UNCERTAINTY_LIMIT:g} %): the spectrum determines it poorly.",
                parameter=label,
            )
        if r["stderr"] is None:
            warn(
                "resistance_undetermined",
                f"the {label} resistance {r['value']:.4g} Ω has no standard error: the "
                "spectrum does not determine it (the circuit's parameters trade off against "
                "each other, or one stopped at its limit), so it cannot be trusted",
                parameter=label,
            )
        elif r["stderr"] > r["value"]:
            warn(
                "stderr_exceeds_value",
                f"the {label} resistance {r['value']:.4g} Ω has a standard error of "
                f"{r['stderr']:.3g} Ω, larger than itself: the spectrum does not determine it.",
                parameter=label,
            )
    out += _window_warnings(fit, features.omega)
    out += _intercept_warnings(fit, features)
    return out


def _window_warnings(fit: EisFit, omega: np.ndarray) -> list[dict[str, str]]:
    """An arc whose apex frequency lies more than half a decade outside the measured window is
    extrapolated: its resistance rests on the tail of the arc only."""
    out = []
    for name in fit.parameters:
        if not (name.startswith("Q") and "R" + name[1:] in fit.parameters):
            continue
        r, q, n = fit.value("R" + name[1:]), fit.value(name), fit.parameters.get("n" + name[1:])
        exponent = n[0] if n else 1.0
        apex = (1.0 / (r * q)) ** (1.0 / exponent) / (2 * np.pi)
        f_hi, f_lo = omega[0] / (2 * np.pi), omega[-1] / (2 * np.pi)
        if apex > f_hi * 10**0.5 or apex < f_lo / 10**0.5:
            side = "above the highest" if apex > f_hi else "below the lowest"
            out.append(
                {
                    "code": "arc_outside_window",
                    "message": (
                        f"the arc of R{name[1:]} peaks at {apex:.3g} Hz, {side} measured "
                        f"frequency ({f_hi if apex > f_hi else f_lo:.3g} Hz): R{name[1:]} is "
                        "extrapolated from the arc's tail."
                    ),
                    "parameter": "R" + name[1:],
                }
            )
    return out


def _intercept_warnings(fit: EisFit, features: _FeatureCache) -> list[dict[str, str]]:
    """The fitted total resistance against the spectrum's own: where a blocking spike shows,
    two model-free readings of the total resistance are the real part where the arcs end and
    the real part at the most resistive point (smallest phase angle). A fit far from both has
    found a wrong minimum or the circuit does not suit the spectrum."""
    total = fit.resistances.get(HEADLINE)
    feat = features(True)
    if total is None or feat.spike is None or feat.end >= features.omega.size - 2:
        return []
    z = features.z
    capacitive = -z.imag > 0
    if not capacitive.any():
        return []
    phase = np.where(capacitive, np.arctan2(-z.imag, z.real), np.inf)
    readings = (feat.r_end, float(z.real[int(np.argmin(phase))]))
    ratios = [total["value"] / r for r in readings if r > 0]
    if not ratios or min(abs(math.log(r)) for r in ratios) <= math.log(INTERCEPT_RATIO_LIMIT):
        return []
    nearest = min(readings, key=lambda r: abs(math.log(total["value"] / r)) if r > 0 else math.inf)
    return [
        {
            "code": "resistance_off_spectrum",
            "message": (
                f"the fitted total resistance {total['value']:.4g} Ω is "
                f"{total['value'] / nearest:.3g} times what the spectrum itself shows where the "
                f"arc meets the electrode spike ({nearest:.4g} Ω): the fit found a wrong "
                "minimum or the circuit does not suit the spectrum"
            ),
        }
    ]


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
