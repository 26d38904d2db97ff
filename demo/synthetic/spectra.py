"""Synthetic data with the canonical columns, shaped like the lab's measurements.

Used by tests (whose expectations are the paper's numbers the generators are built from),
benchmarks (1.5 million cycling rows) and demo data. Everything is vectorised numpy and
deterministic for a given ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from measurements import canonical as c
from measurements.analysis import eis

K_B_EV = 8.617333262e-5
SPECIFIC_CURRENT_1C_MA_G = 200.0  # paper: 1C = 200 mA per g NCM811
PAPER_ACTIVE_MASS_G = 3.054e-3  # 12 mm disk at 2.7 mg/cm2

# --- EIS --------------------------------------------------------------------------------------

# LAGP pellet (900 C) between Pt/Cu blocking electrodes: R0 + R1 = 329.2 ohm (paper).
LAGP_CIRCUIT = {"R0": 200.0, "R1": 129.2, "Q1": 1.0e-7, "n1": 0.85, "Q2": 5.0e-6, "n2": 0.8}
# 20 um SPE between Cu electrodes: R0 = 1.59 ohm with lead inductance (paper).
SPE_CIRCUIT = {"L": 1.0e-7, "R0": 1.59, "Q": 1.0e-5, "n": 0.9}


def frequencies_hz(f_max: float = 1e6, f_min: float = 1.0, per_decade: int = 10) -> np.ndarray:
    """Log-spaced frequencies from ``f_max`` down to ``f_min`` (the Solartron sweep)."""
    decades = math.log10(f_max / f_min)
    return np.logspace(math.log10(f_max), math.log10(f_min), round(decades * per_decade) + 1)


def eis_spectrum(
    model: str,
    params: Mapping[str, float],
    *,
    freq: np.ndarray | None = None,
    noise: float = 0.005,
    seed: int = 0,
) -> pl.DataFrame:
    """Spectrum of an equivalent circuit with relative Gaussian noise ``noise`` x |Z|."""
    f = frequencies_hz() if freq is None else np.asarray(freq, dtype=np.float64)
    z = eis.model_impedance(model, params, f)
    rng = np.random.default_rng(seed)
    z = z + noise * np.abs(z) * (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size))
    return pl.DataFrame({c.FREQUENCY_HZ: f, c.Z_REAL_OHM: z.real, c.Z_IMAG_OHM: z.imag})


# --- conductivity vs temperature --------------------------------------------------------------

# SPE: pseudo-activation energy 0.09 eV; 1.25e-3 S/cm at 25 C, 2e-3 at 40 C, ~5e-3 at 80 C.
SPE_VFT = {"a": 9.8228, "b_k": 0.09 / K_B_EV, "t0_k": 127.51}


def arrhenius_series(
    temperatures_c: Sequence[float],
    *,
    ea_ev: float = 0.36,
    sigma_ref_s_cm: float = 3.25e-4,
    t_ref_c: float = 25.0,
    form: str = "sigma",
    noise: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(temperature_C, sigma_S_cm) following sigma = A exp(-Ea/kT) (or sigma*T for "sigmaT")."""
    t_c = np.asarray(temperatures_c, dtype=np.float64)
    t_k, t_ref = t_c + 273.15, t_ref_c + 273.15
    ln_ratio = -ea_ev / K_B_EV * (1 / t_k - 1 / t_ref)
    sigma = sigma_ref_s_cm * np.exp(ln_ratio)
    if form == "sigmaT":
        sigma = sigma * t_ref / t_k
    return t_c, _with_noise(sigma, noise, seed)


def vft_series(
    temperatures_c: Sequence[float],
    *,
    a: float = SPE_VFT["a"],
    b_k: float = SPE_VFT["b_k"],
    t0_k: float = SPE_VFT["t0_k"],
    noise: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(temperature_C, sigma_S_cm) following sigma = A T^-1/2 exp(-B / (T - T0))."""
    t_c = np.asarray(temperatures_c, dtype=np.float64)
    t_k = t_c + 273.15
    return t_c, _with_noise(a / np.sqrt(t_k) * np.exp(-b_k / (t_k - t0_k)), noise, seed)


def _with_noise(values: np.ndarray, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return values * (1 + noise * rng.standard_normal(values.size))


# --- galvanostatic cycling --------------------------------------------------------------------


@dataclass(frozen=True)
class CyclingProgramme:
    """Per-cycle targets: specific capacities (mAh/g) and C-rates of charge and discharge."""

    charge_mAh_g: np.ndarray
    discharge_mAh_g: np.ndarray
    charge_c_rate: np.ndarray
    discharge_c_rate: np.ndarray


def full_cell_programme(
    n_cycles: int = 400,
    *,
    first_charge_mAh_g: float = 217.0,
    first_discharge_mAh_g: float = 199.0,
    formation_cycles: int = 2,
    formation_c_rate: float = 0.1,
    c_rate: float = 0.2,
    first_fast_discharge_mAh_g: float = 192.0,
    retention_last_vs_first: float = 0.827,
    coulombic_efficiency: float = 0.9996,
) -> CyclingProgramme:
    """The paper's Li|SPE/LAGP|NCM811 cell: 0.1C formation x 2, then 0.2C with linear fade.

    Discharge capacity of the last cycle = ``retention_last_vs_first`` x the first cycle's.
    Every cycle after the first has Q_discharge / Q_charge = ``coulombic_efficiency``.
    """
    discharge = np.empty(n_cycles)
    discharge[:formation_cycles] = first_discharge_mAh_g
    last = retention_last_vs_first * first_discharge_mAh_g
    discharge[formation_cycles:] = np.linspace(
        first_fast_discharge_mAh_g, last, n_cycles - formation_cycles
    )
    charge = discharge / coulombic_efficiency
    charge[0] = first_charge_mAh_g
    rates = np.where(np.arange(n_cycles) < formation_cycles, formation_c_rate, c_rate)
    return CyclingProgramme(charge, discharge, rates, rates)


def rate_test_programme(
    capacity_by_rate: Mapping[float, float] | None = None,
    *,
    cycles_per_rate: int = 5,
    coulombic_efficiency: float = 0.998,
) -> CyclingProgramme:
    """Blocks of ``cycles_per_rate`` cycles at each C-rate (paper: 153 mAh/g at 0.5C)."""
    capacity_by_rate = capacity_by_rate or {0.1: 200.0, 0.2: 190.0, 0.5: 153.0, 1.0: 128.0}
    rates = np.repeat(np.array(list(capacity_by_rate), dtype=float), cycles_per_rate)
    discharge = np.repeat(np.array(list(capacity_by_rate.values())), cycles_per_rate)
    charge = discharge / coulombic_efficiency
    return CyclingProgramme(charge, discharge, rates, rates)


def _charge_voltage(x: np.ndarray) -> np.ndarray:
    """NCM811-like charge curve, 3.4 -> 4.3 V, mean about 3.9 V."""
    return 3.7 + 0.45 * x + 0.15 * x**8 - 0.3 * (1 - x) ** 6


def _discharge_voltage(x: np.ndarray) -> np.ndarray:
    """Discharge curve, 4.1 -> 3.0 V, mean about 3.78 V."""
    return 4.1 - 0.55 * x - 0.55 * x**12


def cycling_frame(
    programme: CyclingProgramme,
    *,
    active_mass_g: float = PAPER_ACTIVE_MASS_G,
    points_per_step: int = 100,
    rest_points: int = 10,
    rest_s: float = 600.0,
    cycle_counter: bool = True,
    step_counter: bool = True,
    step_capacity: bool = False,
    voltage_noise_V: float = 1e-3,
    seed: int = 0,
) -> pl.DataFrame:
    """Charge, rest, discharge, rest for every cycle, sampled at evenly spaced times.

    Steps are numbered 1-4 in every cycle (as a Maccor programme loops). Each step logs its
    first and last instant, so a trapezoid over the step gives back the programmed charge.
    ``cycle_counter``/``step_counter`` False leave those columns null, as some exports do.
    """
    kind, current, duration = _programme_steps(programme, active_mass_g, rest_s)
    points = np.where(kind == 0, rest_points, points_per_step)
    step_of_row = np.repeat(np.arange(kind.size), points)
    first_row = np.cumsum(points) - points
    u = (np.arange(step_of_row.size) - first_row[step_of_row]) / (points[step_of_row] - 1)
    start = np.cumsum(duration) - duration
    # Rounding could put a step's last row an ulp after the next step's first one.
    time_s = np.maximum.accumulate(start[step_of_row] + u * duration[step_of_row])
    voltage = _step_voltages(kind[step_of_row], u, np.roll(kind, 1)[step_of_row])
    voltage += voltage_noise_V * np.random.default_rng(seed).standard_normal(time_s.size)
    i_rows = current[step_of_row]
    n_rows = time_s.size
    frame = {
        c.TIME_S: time_s,
        c.VOLTAGE_V: voltage,
        c.CURRENT_MA: i_rows,
        c.CYCLE: step_of_row // 4 + 1 if cycle_counter else None,
        c.STEP: step_of_row % 4 + 1 if step_counter else None,
        c.STEP_CAPACITY_MAH: None,
        c.STEP_ENERGY_MWH: None,
    }
    if step_capacity:
        frame[c.STEP_CAPACITY_MAH] = np.abs(i_rows) * u * duration[step_of_row] / 3600
        frame[c.STEP_ENERGY_MWH] = _step_cumulative(time_s, np.abs(voltage * i_rows), first_row)
    return _cycling_schema(frame, n_rows)


def _programme_steps(
    programme: CyclingProgramme, active_mass_g: float, rest_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per step (charge, rest, discharge, rest per cycle): kind (+1/0/-1), current mA, s."""
    n = len(programme.discharge_mAh_g)
    kind = np.tile(np.array([1, 0, -1, 0]), n)
    i_ch = programme.charge_c_rate * SPECIFIC_CURRENT_1C_MA_G * active_mass_g
    i_dis = programme.discharge_c_rate * SPECIFIC_CURRENT_1C_MA_G * active_mass_g
    current = np.zeros(4 * n)
    current[0::4], current[2::4] = i_ch, -i_dis
    duration = np.full(4 * n, rest_s)
    duration[0::4] = programme.charge_mAh_g * active_mass_g / i_ch * 3600
    duration[2::4] = programme.discharge_mAh_g * active_mass_g / i_dis * 3600
    return kind, current, duration


def _step_voltages(kind: np.ndarray, u: np.ndarray, previous_kind: np.ndarray) -> np.ndarray:
    """Cathode-like voltage profiles; rests hold the voltage the previous step ended at."""
    rest = np.where(previous_kind > 0, 4.2, 3.3)
    return np.where(kind > 0, _charge_voltage(u), np.where(kind < 0, _discharge_voltage(u), rest))


def _step_cumulative(time_s: np.ndarray, power: np.ndarray, first_row: np.ndarray) -> np.ndarray:
    """Trapezoid integral of ``power`` (mW) since each step's first row, in mWh."""
    inc = np.zeros_like(time_s)
    inc[1:] = 0.5 * (power[1:] + power[:-1]) * np.diff(time_s) / 3600
    inc[first_row] = 0.0
    total = np.cumsum(inc)
    step_start = np.repeat(total[first_row], np.diff(np.append(first_row, time_s.size)))
    return total - step_start


def _cycling_schema(frame: dict, n_rows: int) -> pl.DataFrame:
    dtypes = {
        c.TIME_S: pl.Float64,
        c.VOLTAGE_V: pl.Float64,
        c.CURRENT_MA: pl.Float64,
        c.CYCLE: pl.Int64,
        c.STEP: pl.Int64,
        c.STEP_CAPACITY_MAH: pl.Float64,
        c.STEP_ENERGY_MWH: pl.Float64,
    }
    columns = []
    for name, dtype in dtypes.items():
        value = frame[name]
        if value is None:
            columns.append(pl.repeat(None, n_rows, dtype=dtype, eager=True).alias(name))
        else:
            columns.append(pl.Series(name, value).cast(dtype))
    return pl.DataFrame(columns)


def flip_current_sign(df: pl.DataFrame, rows: Sequence[int]) -> pl.DataFrame:
    """A copy of ``df`` with the current of ``rows`` negated (a logging glitch)."""
    index = pl.int_range(pl.len())
    return df.with_columns(
        pl.when(index.is_in(list(rows)))
        .then(-pl.col(c.CURRENT_MA))
        .otherwise(pl.col(c.CURRENT_MA))
        .alias(c.CURRENT_MA)
    )


# --- Li stripping/plating ---------------------------------------------------------------------


def _bare_lagp(t_h: np.ndarray) -> np.ndarray:
    """Li|LAGP|Li: ~0.2 V settling to ~0.1 V, sharp rise (failure) from 80 h."""
    base = 0.1 + 0.1 * np.exp(-t_h / 20)
    rise = 0.8 * (1 - np.exp(-np.clip(t_h - 80, 0, None) / 3))
    return base + rise


def _ile_lagp(t_h: np.ndarray) -> np.ndarray:
    """Li|ILE/LAGP/ILE|Li: 0.015 V, gradual rise after 150 h, short circuit at 195 h."""
    eta = 0.015 + 0.0008 * np.clip(t_h - 150, 0, None)
    return np.where(t_h >= 195, 0.0005, eta)


def _spe_lagp(t_h: np.ndarray) -> np.ndarray:
    """Li|ILE/SPE/LAGP/SPE/ILE|Li: stable ~0.03 V."""
    return np.full_like(t_h, 0.03)


PAPER_STRIPPING_PROFILES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Li|LAGP|Li": _bare_lagp,
    "Li|ILE/LAGP/ILE|Li": _ile_lagp,
    "Li|ILE/SPE/LAGP/SPE/ILE|Li": _spe_lagp,
}


def stripping_schedule(
    duration_h: float, *, half_cycle_h: float = 2.0, rest_every_h: float = 12.0, rest_h: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start_h, end_h, sign) of the programme's steps: +j, -j, ... and an OCV rest (sign 0)
    after every ``rest_every_h`` hours of current."""
    per_block = round(rest_every_h / half_cycle_h)
    block_h = per_block * half_cycle_h + rest_h
    n_blocks = math.ceil(duration_h / block_h)
    k = np.arange(per_block + 1)
    starts = (np.arange(n_blocks)[:, None] * block_h + k * half_cycle_h).ravel()
    lengths = np.tile(np.where(k < per_block, half_cycle_h, rest_h), n_blocks)
    signs = np.tile(np.where(k < per_block, np.where(k % 2 == 0, 1, -1), 0), n_blocks)
    keep = starts < duration_h
    ends = np.minimum(starts + lengths, duration_h)
    return starts[keep], ends[keep], signs[keep]


def stripping_trace(
    overpotential_V: Callable[[np.ndarray], np.ndarray],
    *,
    duration_h: float,
    current_mA: float = 0.05,
    half_cycle_h: float = 2.0,
    rest_every_h: float = 12.0,
    rest_h: float = 1.0,
    points_per_hour: int = 60,
    noise_V: float = 2e-4,
    step_counter: bool = True,
    seed: int = 0,
) -> pl.DataFrame:
    """Voltage of a symmetric Li cell under +/-j with the overpotential ``overpotential_V(t_h)``.

    Within a half cycle the voltage approaches its plateau over the first ~0.5 h (the usual
    shape); during rests it sits near 0 V.
    """
    starts, ends, signs = stripping_schedule(
        duration_h, half_cycle_h=half_cycle_h, rest_every_h=rest_every_h, rest_h=rest_h
    )
    points = np.maximum(np.round((ends - starts) * points_per_hour).astype(int), 2)
    step = np.repeat(np.arange(starts.size), points)
    first_row = np.cumsum(points) - points
    u = (np.arange(step.size) - first_row[step]) / (points[step] - 1)
    t_h = np.maximum.accumulate(starts[step] + u * (ends - starts)[step])
    tau = t_h - starts[step]
    sign = signs[step]
    plateau = overpotential_V(t_h) * (1 - 0.3 * np.exp(-tau / 0.15))
    rng = np.random.default_rng(seed)
    voltage = sign * plateau + noise_V * rng.standard_normal(t_h.size)
    return pl.DataFrame(
        {
            c.TIME_S: t_h * 3600,
            c.VOLTAGE_V: voltage,
            c.CURRENT_MA: sign * current_mA,
            c.CYCLE: pl.repeat(None, t_h.size, dtype=pl.Int64, eager=True),
            c.STEP: pl.Series(step + 1 if step_counter else [None] * t_h.size, dtype=pl.Int64),
        }
    ).with_columns(pl.col(c.CURRENT_MA).cast(pl.Float64))


# --- thermogravimetry -------------------------------------------------------------------------

# (onset C, width C, loss %) per mass-loss step. The extrapolated onset of a logistic step
# centred at onset + 2 x width is exactly ``onset``.
SPE_TGA_STEPS = ((90.0, 10.0, 0.3), (215.0, 12.0, 62.0), (330.0, 15.0, 33.0))
LAGP_TGA_STEPS: tuple[tuple[float, float, float], ...] = ()


def tga_curve(
    steps: Sequence[tuple[float, float, float]] = SPE_TGA_STEPS,
    *,
    initial_mass_mg: float = 1.0,
    start_c: float = 30.0,
    end_c: float = 600.0,
    ramp_c_min: float = 5.0,
    isothermal_min: float = 30.0,
    points_per_min: int = 6,
    noise_pct: float = 0.002,
    seed: int = 0,
) -> pl.DataFrame:
    """Isothermal hold at ``start_c``, then a ramp to ``end_c`` (the paper's TGA programme)."""
    ramp_min = (end_c - start_c) / ramp_c_min
    t_min = np.arange(0, (isothermal_min + ramp_min) * points_per_min + 1) / points_per_min
    temperature = start_c + ramp_c_min * np.clip(t_min - isothermal_min, 0, None)
    loss = np.zeros_like(temperature)
    for onset, width, pct in steps:
        loss += pct / (1 + np.exp(-(temperature - (onset + 2 * width)) / width))
    loss -= loss[0]  # mass is 100 % at the first point by definition
    rng = np.random.default_rng(seed)
    pct = 100.0 - loss + noise_pct * rng.standard_normal(t_min.size)
    return pl.DataFrame(
        {
            c.TIME_S: t_min * 60,
            c.TEMPERATURE_C: temperature,
            c.MASS_MG: pct / 100 * initial_mass_mg,
            c.MASS_PCT: pct,
        }
    )
