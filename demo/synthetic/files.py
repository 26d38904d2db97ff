"""Synthetic but realistic instrument exports, for benchmarks and scale tests.

No real text export above ~12k rows is public, so the 1.5-million-row benchmark uses a
generated Maccor export with the real format's quirks (preamble, tab separators, unsigned
current with a State column, capacity that resets at each step, ``  0d 00:28:00.88`` times).
"""

from __future__ import annotations

import datetime as dt
import pathlib
from dataclasses import dataclass

import numpy as np
import polars as pl

# Segment layout of one cycle: (Maccor step, State, share of the cycle's rows).
_SEGMENTS = ((2, "C", 0.46), (3, "R", 0.04), (4, "D", 0.46), (5, "R", 0.04))
_REST_S = 600.0  # each rest step lasts 10 min
_CUTOFF_LOW_V, _CUTOFF_HIGH_V = 3.0, 4.3


@dataclass(frozen=True)
class _Cell:
    mass_g: float
    charge_mah: np.ndarray  # per cycle
    discharge_mah: np.ndarray
    current_ma: float


def _capacities(
    n_cycles: int,
    mass_mg: float,
    first_charge_mah_g: float,
    first_discharge_mah_g: float,
    retention_at_last: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Linear-ish fade of the discharge capacity, and charge = discharge / coulombic eff."""
    k = np.arange(n_cycles, dtype=float)
    frac = k / max(n_cycles - 1, 1)
    # Slightly concave: fade is a bit faster early, as in NCM811 cells; ends exactly on target.
    fade = (1.0 - retention_at_last) * (0.85 * frac + 0.15 * np.sqrt(frac))
    discharge = first_discharge_mah_g * (1.0 - fade) * mass_mg / 1000.0
    noise = 1.0 + 4e-4 * rng.standard_normal(n_cycles)
    noise[0] = noise[-1] = 1.0
    discharge = discharge * noise
    efficiency = 0.9985 - 0.006 * np.exp(-k / 4.0)
    charge = discharge / efficiency
    charge[0] = first_charge_mah_g * mass_mg / 1000.0
    return charge, discharge


def _charge_voltage(s: np.ndarray, cycle_frac: np.ndarray) -> np.ndarray:
    shape = 3.70 + 0.45 * s + 0.03 * np.log((s + 0.01) / 1.01) + 0.12 * s**6
    lo, hi = 3.70 + 0.03 * np.log(0.01 / 1.01), 4.27
    v = 3.45 + (shape - lo) * (_CUTOFF_HIGH_V - 3.45) / (hi - lo)
    return v + 0.02 * cycle_frac * (1.0 - s)  # polarisation grows with ageing


def _discharge_voltage(s: np.ndarray, cycle_frac: np.ndarray) -> np.ndarray:
    shape = 4.18 - 0.55 * s - 0.06 * s**2 - 0.45 * s**18
    v = _CUTOFF_LOW_V + (shape - (4.18 - 1.06)) * (4.20 - _CUTOFF_LOW_V) / 1.06
    return v - 0.12 * cycle_frac * s * (1.0 - s)  # ageing lowers the plateau, not the cut-off


def _segment(
    cell: _Cell, state: str, n_rows: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """One step type for all cycles at once: arrays of shape (n_cycles, n_rows)."""
    n_cycles = cell.charge_mah.size
    cycle_frac = (np.arange(n_cycles) / max(n_cycles - 1, 1))[:, None]
    j = (np.arange(n_rows) + 1.0)[None, :] / n_rows
    if state == "R":
        duration = np.full((n_cycles, 1), _REST_S)
        current = np.zeros((n_cycles, n_rows))
        capacity = np.zeros((n_cycles, n_rows))
    else:
        total = cell.charge_mah if state == "C" else cell.discharge_mah
        duration = (total / cell.current_ma * 3600.0)[:, None]
        capacity = total[:, None] * j
        current = np.full((n_cycles, n_rows), cell.current_ma)
        current *= 1.0 + 2e-4 * rng.standard_normal((n_cycles, n_rows))
    step_time = duration * j
    if state == "C":
        volts = _charge_voltage(j, cycle_frac)
    elif state == "D":
        volts = _discharge_voltage(j, cycle_frac)
    else:
        volts = np.zeros((n_cycles, n_rows))  # filled by _relax
    volts = volts + 3e-4 * rng.standard_normal(volts.shape)
    dq = np.diff(capacity, axis=1, prepend=0.0)
    energy = np.cumsum(volts * dq, axis=1)
    return {
        "step_time": step_time,
        "duration": np.broadcast_to(duration, (n_cycles, 1)),
        "capacity": capacity,
        "energy": energy,
        "current": current,
        "volts": volts,
    }


def _relax(rest: dict[str, np.ndarray], start_v: np.ndarray, target_v: float) -> None:
    tau = 90.0
    t = rest["step_time"]
    rest["volts"] = rest["volts"] + target_v + (start_v[:, None] - target_v) * np.exp(-t / tau)


def _cycle_arrays(cell: _Cell, rows_per_cycle: int, rng: np.random.Generator) -> dict:
    counts = [int(round(share * rows_per_cycle)) for _, _, share in _SEGMENTS]
    counts[-1] = rows_per_cycle - sum(counts[:-1])
    if min(counts) < 2:
        raise ValueError("rows_per_cycle too small: every step needs at least 2 rows")
    segs = [
        _segment(cell, state, n, rng) for (_, state, _), n in zip(_SEGMENTS, counts, strict=True)
    ]
    _relax(segs[1], segs[0]["volts"][:, -1], 4.20)
    _relax(segs[3], segs[2]["volts"][:, -1], 3.48)
    durations = np.hstack([s["duration"] for s in segs])  # (n_cycles, 4)
    starts = np.concatenate([[0.0], np.cumsum(durations.ravel())[:-1]]).reshape(durations.shape)
    test_time = np.hstack([starts[:, i : i + 1] + s["step_time"] for i, s in enumerate(segs)])
    out = {key: np.hstack([s[key] for s in segs]) for key in ("step_time", "capacity", "energy")}
    out.update({key: np.hstack([s[key] for s in segs]) for key in ("current", "volts")})
    out["test_time"] = test_time
    out["step"] = np.hstack(
        [np.full(n, step) for (step, _, _), n in zip(_SEGMENTS, counts, strict=True)]
    )
    out["state"] = np.hstack(
        [np.full(n, st) for (_, st, _), n in zip(_SEGMENTS, counts, strict=True)]
    )
    out["counts"] = counts
    return out


def _maccor_duration(seconds: pl.Expr) -> pl.Expr:
    """Maccor's ``  0d 00:28:00.88`` (day count padded to 3 characters)."""
    cs = (seconds * 100.0).round(0).cast(pl.Int64)
    s, rest = cs // 100, cs % 100

    def two(expr: pl.Expr) -> pl.Expr:
        return expr.cast(pl.String).str.zfill(2)

    days = (s // 86400).cast(pl.String).str.pad_start(3)
    return pl.format(
        "{}d {}:{}:{}.{}", days, two(s // 3600 % 24), two(s // 60 % 60), two(s % 60), two(rest)
    )


def _preamble(path: pathlib.Path, start: dt.datetime, n_cycles: int) -> str:
    date = f"{start:%d %B %Y}"
    return (
        f"Today's Date:\t{date}\tDate of Test:\t{date}, {start:%I:%M:%S %p}\n"
        f"    Filename:\t{path.stem}\tTester Channel:\t1\n"
        f"Procedure:\tNCM811_3p0-4p3V_C2_{n_cycles}cyc.000\tDescription:\t"
        "synthetic Li|LAGP-SPE|NCM811 cell\n"
    )


def write_maccor_cycling(
    path: str | pathlib.Path,
    n_cycles: int = 400,
    rows_per_cycle: int = 3750,
    *,
    active_mass_mg: float = 3.054,
    first_charge_mah_g: float = 217.0,
    first_discharge_mah_g: float = 199.0,
    retention_at_last: float = 0.827,
    c_rate: float = 0.5,
    milli_units: bool = True,
    seed: int = 0,
    start: dt.datetime = dt.datetime(2024, 1, 8, 9, 30, 0),
) -> pathlib.Path:
    """Write a Maccor text export of a Li-metal | NCM811 cell cycled 3.0-4.3 V.

    ``n_cycles * rows_per_cycle`` rows (1.5 million by default): per cycle a CC charge
    (State C), rest, CC discharge (State D), rest; the discharge capacity fades linearly-ish
    from ``first_discharge_mah_g`` to ``retention_at_last`` of it at the last cycle. Current
    is unsigned and capacity/energy reset at each step, as Maccor exports them.
    ``milli_units`` selects the ``mAmp-hr``/``mAmps`` dialect, else ``Amp-hr``/``Amps``.
    """
    path = pathlib.Path(path)
    rng = np.random.default_rng(seed)
    charge, discharge = _capacities(
        n_cycles,
        active_mass_mg,
        first_charge_mah_g,
        first_discharge_mah_g,
        retention_at_last,
        rng,
    )
    current = c_rate * first_discharge_mah_g * active_mass_mg / 1000.0
    cell = _Cell(active_mass_mg / 1000.0, charge, discharge, current)
    a = _cycle_arrays(cell, rows_per_cycle, rng)
    frame = _frame(a, n_cycles, rows_per_cycle, milli_units, start)
    with open(path, "wb") as fh:
        fh.write(_preamble(path, start, n_cycles).encode("ascii"))
        frame.write_csv(fh, separator="\t", float_precision=6 if milli_units else 9)
    return path


def _frame(
    a: dict, n_cycles: int, rows_per_cycle: int, milli: bool, start: dt.datetime
) -> pl.DataFrame:
    scale = 1.0 if milli else 1e-3
    prefix = "m" if milli else ""
    n = n_cycles * rows_per_cycle
    first = np.zeros(rows_per_cycle, dtype=np.int64)
    bounds = np.cumsum(a["counts"])
    first[np.concatenate([[0], bounds[:-1]])] = 1
    last = np.zeros(rows_per_cycle, dtype=np.int64)
    last[bounds - 1] = 1
    es = np.where(first == 1, 0, np.where(last == 1, 133, 5))
    base = pl.DataFrame(
        {
            "Rec#": np.arange(1, n + 1, dtype=np.int64),
            "Cyc#": np.repeat(np.arange(1, n_cycles + 1, dtype=np.int64), rows_per_cycle),
            "Step": np.tile(a["step"], n_cycles),
            "t": a["test_time"].ravel(),
            "st": a["step_time"].ravel(),
            f"{prefix}Amp-hr": a["capacity"].ravel() * scale,
            f"{prefix}Watt-hr": a["energy"].ravel() * scale,
            f"{prefix}Amps": a["current"].ravel() * scale,
            "Volts": a["volts"].ravel(),
            "State": np.tile(a["state"], n_cycles),
            "ES": np.tile(es, n_cycles),
        }
    )
    stamp = pl.lit(start) + pl.duration(milliseconds=(pl.col("t") * 1000).cast(pl.Int64))
    return base.select(
        "Rec#",
        "Cyc#",
        "Step",
        _maccor_duration(pl.col("t")).alias("TestTime"),
        _maccor_duration(pl.col("st")).alias("StepTime"),
        f"{prefix}Amp-hr",
        f"{prefix}Watt-hr",
        f"{prefix}Amps",
        "Volts",
        "State",
        "ES",
        stamp.dt.to_string("%m/%d/%Y %I:%M:%S %p").alias("DPt Time"),
    )
