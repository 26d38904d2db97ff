"""What a measurement's plots show: one JSON payload per measurement (and choice of cycles),
built from the parsed data and the stored results, thinned on the server, and cached.

``selectors.plot_data`` is the one way in: the page embeds its answer
(``templates/measurements/detail.html``, drawn by ``static/lims/plots.js``) and
``GET /api/measurements/<code>/plot/`` returns the same dict, so a script plots what the page
shows. The science (thinning, dQ/dV, cycle curves, envelopes, TGA derivative) is in
``measurements.analysis``; this module assembles and caches.

Cache: the payload of a processed measurement does not change until it is processed again,
and building it for a 1.5-million-row cycling test means reading the whole Parquet (about
0.3 s). It is kept as JSON in the store (``storage``) under ``plots/<measurement id>/<key>/``, where the key
hashes the run, the time it finished and the files' SHA-256, so a re-run, a new file or a
reused database id never meets a stale payload; older keys of the measurement are removed
when a new one is written. The worker builds the default payload when it finishes a run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from typing import Any

import numpy as np
import polars as pl

from . import canonical as c
from . import storage
from .analysis import AnalysisError, cycling, eis, stripping, tga
from .analysis.dqdv import dqdv
from .analysis.thinning import thin
from .models import CycleRow, Measurement, Status

log = logging.getLogger(__name__)

PLOT_VERSION = "plots/1"
# A plot of what was parsed helps most when a number is doubtful or waits for an input.
SHOWS_PLOT = (Status.DONE, Status.DONE_WITH_WARNINGS, Status.NEEDS_INPUT)
MAX_POINTS = 4000  # per plotted series: more than a screen's width, a few hundred kB of JSON
CURVE_POINTS = 400  # per charge or discharge of a chosen cycle
MAX_CYCLES = 12  # curves in one voltage plot that can still be told apart
DEFAULT_CYCLE_ORDINALS = (1, 10, 100)  # and the last cycle
SIGNIFICANT_DIGITS = 6  # well beyond what a plot or an instrument resolves


class PlotInputError(ValueError):
    """A plot option the user sent cannot be used; ``field`` names it as the user wrote it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# --- cycle choice -----------------------------------------------------------------------------


def default_cycles(available: list[int]) -> list[int]:
    """The first, 10th, 100th and last cycle, those the test has."""
    if not available:
        return []
    have = set(available)
    chosen = [n for n in DEFAULT_CYCLE_ORDINALS if n in have] + [available[-1]]
    return sorted(set(chosen))


def choose_cycles(text: str | None, available: list[int]) -> tuple[list[int], list[int]]:
    """(cycles to draw, cycles asked for that the test does not have) from the user's
    ``cycles`` text ("1, 50, 200"); the defaults when the text is empty. PlotInputError when
    the text is not a list of cycle numbers, asks for too many, or for none the test has."""
    text = (text or "").strip()
    if not text:
        return default_cycles(available), []
    numbers = []
    for token in re.split(r"[\s,;]+", text):
        if not token:
            continue
        if not (token.isascii() and token.isdigit()) or len(token) > 9:
            raise PlotInputError(
                "cycles",
                f"“{token[:20]}” is not a cycle number: write cycle numbers separated by "
                "commas, e.g. 1,50,200",
            )
        numbers.append(int(token))
    numbers = sorted(set(numbers))
    if len(numbers) > MAX_CYCLES:
        raise PlotInputError(
            "cycles", f"at most {MAX_CYCLES} cycles at once (you asked for {len(numbers)})"
        )
    have = set(available)
    missing = [n for n in numbers if n not in have]
    chosen = [n for n in numbers if n in have]
    if not chosen:
        span = f"cycles {available[0]}–{available[-1]}" if available else "no cycles"
        raise PlotInputError(
            "cycles",
            f"{_listed(missing)} {'is' if len(missing) == 1 else 'are'} not in this test ({span})",
        )
    return chosen, missing


def _listed(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers[:10]) + (" …" if len(numbers) > 10 else "")


# --- the payload ------------------------------------------------------------------------------


def build(measurement: Measurement, frame: pl.DataFrame, cycles: list[int]) -> dict[str, Any]:
    """The payload from the parsed frame (all files joined) and the stored results;
    ``cycles``: those whose voltage and dQ/dV curves a cycling payload holds."""
    results = {r.kind: r for r in measurement.results.all()}
    builder = {
        "eis": _eis,
        "cycling": _cycling,
        "stripping": _stripping,
        "tga": _tga,
        "xrd": _xrd,
    }[measurement.technique]
    payload = {"type": measurement.technique, "version": PLOT_VERSION}
    try:
        payload.update(builder(measurement, frame, results, cycles))
    except AnalysisError as exc:
        # The stored numbers were computed from the same data; a plot that cannot be drawn
        # says why instead of taking the page down.
        payload["error"] = str(exc)
    return payload


def _eis(measurement, frame, results, cycles) -> dict[str, Any]:
    f = frame[c.FREQUENCY_HZ].to_numpy()
    z = frame[c.Z_REAL_OHM].to_numpy() + 1j * frame[c.Z_IMAG_OHM].to_numpy()
    out: dict[str, Any] = {"data": _impedance(f, z), "fit": None, "kk": None, "r_ionic": None}
    fit = results.get("eis_fit")
    if fit is not None:
        params = {k: v["value"] for k, v in fit.values["parameters"].items()}
        # The fitted model on a fine grid over the measured window: a smooth line through
        # the points, not a polygon through the measured frequencies.
        grid = np.logspace(np.log10(np.nanmax(f)), np.log10(np.nanmin(f)), 300)
        out["fit"] = _impedance(grid, eis.model_impedance(fit.values["model"], params, grid))
        out["model"] = fit.values["model"]
        out["r_ionic"] = fit.values.get("ionic_resistance_ohm")
        kk = fit.values.get("linkk")
        if kk:  # Lin-KK residuals in % of |Z| against frequency
            out["kk"] = {
                "f": _num(kk["frequency_hz"]),
                "re": _num(100 * np.asarray(kk["residuals_real"], dtype=float)),
                "im": _num(100 * np.asarray(kk["residuals_imag"], dtype=float)),
            }
    return out


def _impedance(f: np.ndarray, z: np.ndarray) -> dict[str, list]:
    """Z', -Z'', |Z| and -phase (degrees) at each frequency: the Nyquist and Bode series."""
    return {
        "f": _num(f),
        "zr": _num(z.real),
        "mzi": _num(-z.imag),
        "mod": _num(np.abs(z)),
        "mphase": _num(-np.degrees(np.angle(z))),
    }


def available_cycles(measurement: Measurement) -> list[int]:
    return list(
        CycleRow.objects.filter(measurement=measurement)
        .order_by("cycle")
        .values_list("cycle", flat=True)
    )


def _cycling(measurement, frame, results, cycles) -> dict[str, Any]:
    rows = list(
        CycleRow.objects.filter(measurement=measurement)
        .order_by("cycle")
        # cycle, charge and discharge in mAh and mAh/g, coulombic efficiency
        .values_list(*cycling.PER_CYCLE_COLUMNS[:6])
    )
    summary = results.get("cycling_summary")
    mass_mg = (summary.inputs or {}).get("active_mass_mg") if summary is not None else None
    # Without the active mass (needs input) capacities are plotted in mAh, and say so.
    per_gram = bool(mass_mg)
    unit = "mAh/g" if per_gram else "mAh"
    cycle, q_ch, q_dis, q_ch_g, q_dis_g, ce = (
        (list(col) for col in zip(*rows, strict=True)) if rows else ([],) * 6
    )
    out: dict[str, Any] = {
        "capacity_unit": unit,
        "summary": {
            "cycle": cycle,
            "charge": _num(q_ch_g if per_gram else q_ch),
            "discharge": _num(q_dis_g if per_gram else q_dis),
            "ce_pct": _num([None if v is None else 100 * v for v in ce]),
        },
        "cycles": {"chosen": cycles, "default": default_cycles(cycle), "first": None, "last": None},
        "curves": [],
        "dqdv": [],
        "rate": None,
    }
    if cycle:
        out["cycles"].update(first=cycle[0], last=cycle[-1])
    rate = results.get("rate_table")
    blocks = (rate.values or {}).get("rows") if rate is not None else None
    # One rate is no rate capability: the plot shows when the test changed the rate.
    if blocks and len(blocks) > 1 and per_gram:
        out["rate"] = {
            "label": [
                f"{b['c_rate']:g}C ({b['first_cycle']}–{b['last_cycle']})"
                if b["first_cycle"] != b["last_cycle"]
                else f"{b['c_rate']:g}C ({b['first_cycle']})"
                for b in blocks
            ],
            "c_rate": [b["c_rate"] for b in blocks],
            "discharge": _num([b["mean_discharge_mAh_g"] for b in blocks]),
        }
    if cycles:
        scale = 1000.0 / mass_mg if per_gram else 1.0
        curves = cycling.cycle_curves(frame, cycles).with_columns(
            (pl.col("capacity_mAh") * scale).alias("capacity")
        )
        for (n, direction), half in curves.group_by("cycle", "direction", maintain_order=True):
            label = "charge" if direction > 0 else "discharge"
            shown = thin(half, x="capacity", y=c.VOLTAGE_V, group="step", max_points=CURVE_POINTS)
            out["curves"].append(
                {
                    "cycle": int(n),
                    "direction": label,
                    "capacity": _num(shown["capacity"]),
                    "voltage": _num(shown[c.VOLTAGE_V]),
                }
            )
            if half.height >= 2:
                v, d = dqdv(half["capacity"].to_numpy(), half[c.VOLTAGE_V].to_numpy())
                inside = (v >= half[c.VOLTAGE_V].min()) & (v <= half[c.VOLTAGE_V].max())
                out["dqdv"].append(
                    {
                        "cycle": int(n),
                        "direction": label,
                        "voltage": _num(v[inside]),
                        "dqdv": _num(d[inside]),
                    }
                )
    return out


def _stripping(measurement, frame, results, cycles) -> dict[str, Any]:
    marked = stripping.with_half_cycle_ids(frame)
    shown = thin(marked, x=c.TIME_S, y=c.VOLTAGE_V, group="half_cycle", max_points=MAX_POINTS)
    env = stripping.envelope(frame)
    # Per half cycle the voltage farthest from zero: the overpotential with its sign.
    extreme = np.where(env["v_max"].abs() >= env["v_min"].abs(), env["v_max"], env["v_min"])
    mid_h = 0.5 * (env["start_h"].to_numpy() + env["end_h"].to_numpy())
    values = results["stripping"].values if "stripping" in results else {}
    return {
        "trace": {"t_h": _num(shown[c.TIME_S] / 3600.0), "v": _num(shown[c.VOLTAGE_V])},
        "envelope": {
            "upper": {"t_h": _num(mid_h[extreme > 0]), "v": _num(extreme[extreme > 0])},
            "lower": {"t_h": _num(mid_h[extreme < 0]), "v": _num(extreme[extreme < 0])},
        },
        "failure_h": values.get("failure_time_h"),
        "short_h": values.get("short_circuit_time_h"),
    }


def _tga(measurement, frame, results, cycles) -> dict[str, Any]:
    mass = c.MASS_PCT if frame[c.MASS_PCT].null_count() == 0 else c.MASS_MG
    curve = frame.select(
        c.TEMPERATURE_C, (100.0 * pl.col(mass) / pl.col(mass).first()).alias("pct")
    )
    shown = thin(curve, x=c.TEMPERATURE_C, y="pct", max_points=MAX_POINTS)
    grid_t, slope = tga.derivative(frame)
    values = results["tga"].values if "tga" in results else {}
    t_all, pct_all = curve[c.TEMPERATURE_C].to_numpy(), curve["pct"].to_numpy()
    marks = []
    for key, label in (
        ("t_1pct_loss_C", "1 % loss"),
        ("t_5pct_loss_C", "5 % loss"),
        ("onset_C", "onset"),
    ):
        t = values.get(key)
        if t is not None:
            # The mass where the curve first reaches that temperature, for the marker.
            i = int(np.argmax(t_all >= t)) if np.any(t_all >= t) else t_all.size - 1
            marks.append({"label": label, "t": float(t), "m": float(pct_all[i])})
    thinned_d = thin(pl.DataFrame({"t": grid_t, "d": slope}), x="t", y="d", max_points=MAX_POINTS)
    return {
        "curve": {"t": _num(shown[c.TEMPERATURE_C]), "m": _num(shown["pct"])},
        "derivative": {"t": _num(thinned_d["t"]), "d": _num(thinned_d["d"])},
        "marks": marks,
    }


def _xrd(measurement, frame, results, cycles) -> dict[str, Any]:
    shown = thin(frame, x=c.TWO_THETA_DEG, y=c.INTENSITY, max_points=MAX_POINTS)
    return {"x": _num(shown[c.TWO_THETA_DEG]), "y": _num(shown[c.INTENSITY])}


def _num(values) -> list:
    """Floats for JSON to ``SIGNIFICANT_DIGITS`` each (a third of the JSON of full doubles);
    NaN, inf and None become null."""
    arr = np.asarray(values.to_numpy() if isinstance(values, pl.Series) else values, dtype=float)
    return [
        float(f"{v:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(v) else None for v in arr.tolist()
    ]


# --- data and cache ---------------------------------------------------------------------------


def cache_path(measurement: Measurement, links, cycles: list[int]) -> str:
    """The store key under which the payload of this run (and choice of cycles) is kept."""
    key = _cache_key(measurement, links)
    name = f"cycles-{'-'.join(map(str, cycles)) or 'none'}.json"
    return f"plots/{measurement.pk}/{key}/{name}"


def _cache_key(measurement: Measurement, links) -> str:
    parts = [
        PLOT_VERSION,
        measurement.pk,
        measurement.run,
        measurement.processed_at.isoformat() if measurement.processed_at else "",
        [(link.raw_file.sha256, link.parsed_path) for link in links],
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:20]


def read_cache(key: str) -> dict | None:
    try:
        data = storage.read_bytes(key)
        return None if data is None else json.loads(data)
    except (OSError, ValueError):
        return None
    except Exception:  # an unreachable object store costs a rebuild, never the page
        log.warning("plot payload cache at %s not read", key, exc_info=True)
        return None


def write_cache(key: str, payload: dict) -> None:
    """Write (whole or not at all) and drop the measurement's payloads of older runs."""
    measurement_dir, run_key, _ = key.rsplit("/", 2)
    try:
        storage.delete_tree(measurement_dir, keep=run_key)
        data = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        storage.write_bytes(key, data)
    except Exception:
        # A read-only, full or unreachable store only costs the next request the time to
        # build it again.
        log.warning("plot payload not cached at %s", key, exc_info=True)
