"""Plausibility of computed numbers: pure functions that return warnings, never raise.

A warning is ``{"code": "<snake_case id>", "message": "<one sentence with the numbers and the
limit>"}`` (optionally "parameter"); a result with any warning makes its measurement "done,
with warnings" instead of "done". The limits are physical (a capacity above the active
material's theoretical one, a conductivity no solid electrolyte reaches, a voltage the cycler
cannot apply), so a warning nearly always means a wrong input (a mass in g typed as mg, an
area in mm², a file in mV read as V), not an exciting result.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

Warning_ = dict[str, Any]

# The best solid electrolytes (Li10GeP2S12, Li9.54Si1.74P1.44S11.7Cl0.3) reach ~0.01-0.03 S/cm.
MAX_SOLID_CONDUCTIVITY_S_CM = 0.1

# Theoretical specific capacity (mAh/g) of the active material, full (de)lithiation of the
# formula unit. Names are matched after dropping spaces, dashes and case (see `material_key`).
THEORETICAL_CAPACITY_MAH_G: dict[str, float] = {
    "NCM811": 275.0,
    "NCM622": 277.0,
    "NCM523": 278.0,
    "NCM111": 278.0,
    "NCA": 279.0,
    "LCO": 274.0,
    "LFP": 170.0,
    "LMO": 148.0,
    "LNMO": 147.0,
    "LTO": 175.0,
    "graphite": 372.0,
}
# Other ways the lab writes the same materials (chemical name, formula, notation label).
ALIASES: dict[str, str] = {
    "NMC811": "NCM811",
    "LINI0.8CO0.1MN0.1O2": "NCM811",
    "LINI0.8MN0.1CO0.1O2": "NCM811",
    "NMC622": "NCM622",
    "LINI0.6CO0.2MN0.2O2": "NCM622",
    "LINI0.6MN0.2CO0.2O2": "NCM622",
    "NMC523": "NCM523",
    "NMC111": "NCM111",
    "LINI0.8CO0.15AL0.05O2": "NCA",
    "LICOO2": "LCO",
    "LIFEPO4": "LFP",
    "LIMN2O4": "LMO",
    "LINI0.5MN1.5O4": "LNMO",
    "LI4TI5O12": "LTO",
    "C": "graphite",
    "GRAPHITE": "graphite",
}
# Without a known material: above every intercalation electrode in the table (graphite's
# 372 mAh/g is the highest), so only a clearly wrong mass is flagged.
GENERIC_MAX_CAPACITY_MAH_G = 400.0

MAX_COULOMBIC_EFFICIENCY = 1.02
MAX_C_RATE = 20.0

# The largest cell voltage each cycler can apply or read (V); others: DEFAULT_MAX_VOLTAGE_V.
INSTRUMENT_MAX_VOLTAGE_V: dict[str, float] = {
    "biologic_vmp": 10.0,  # VMP-3 / VSP: ±10 V
    "maccor_4300": 5.0,
    "neware": 5.0,
    "gamry": 5.0,
    "solartron_1260": 5.0,
}
DEFAULT_MAX_VOLTAGE_V = 5.0
INSTRUMENT_NAMES = {
    "biologic_vmp": "BioLogic VMP",
    "maccor_4300": "Maccor 4300",
    "neware": "Neware",
    "gamry": "Gamry",
    "solartron_1260": "Solartron 1260",
}


def warning(code: str, message: str, **extra: Any) -> Warning_:
    return {"code": code, "message": message, **extra}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _g(value: float) -> str:
    """A number as a scientist writes it: 3 significant figures ("2.97e+05" when huge)."""
    return f"{value:.3g}" if abs(value) >= 1e4 or abs(value) < 1e-2 else f"{value:.4g}"


# --- materials ----------------------------------------------------------------------------------


def material_key(*names: str | None) -> str | None:
    """The table's key for the first of `names` (chemical name, formula, notation label) that
    is a known active material, or None. A name matches as a whole ("LiNi0.8Co0.1Mn0.1O2",
    "NMC 811") or by one of its words ("NCM811 (Targray)", "Graphite SFG6")."""
    keys = {key.upper(): key for key in THEORETICAL_CAPACITY_MAH_G}
    for name in names:
        if not name:
            continue
        whole = re.sub(r"[\s\-_]", "", name).upper()
        words = [w for w in re.split(r"[^0-9A-Za-z.]+", name.upper()) if w]
        for text in (whole, *words):
            if text in keys:
                return keys[text]
            if text in ALIASES:
                return ALIASES[text]
    return None


def capacity_limit(material: str | None) -> tuple[float, str]:
    """The largest believable specific capacity (mAh/g) and what it is, in words."""
    if material in THEORETICAL_CAPACITY_MAH_G:
        limit = THEORETICAL_CAPACITY_MAH_G[material]
        return limit, f"{material}'s theoretical capacity of {_g(limit)} mAh/g"
    return (
        GENERIC_MAX_CAPACITY_MAH_G,
        f"the generic limit of {_g(GENERIC_MAX_CAPACITY_MAH_G)} mAh/g (the active material is "
        "not recorded or not in the table, so its own theoretical capacity could not be used)",
    )


# --- checks -------------------------------------------------------------------------------------


def conductivity_warnings(sigma_s_cm: float | None) -> list[Warning_]:
    if not _finite(sigma_s_cm) or sigma_s_cm <= MAX_SOLID_CONDUCTIVITY_S_CM:
        return []
    return [
        warning(
            "conductivity_implausible",
            f"Conductivity {sigma_s_cm:.3g} S/cm is above {MAX_SOLID_CONDUCTIVITY_S_CM:g} S/cm, "
            "more than any solid electrolyte reaches: check the thickness (µm) and the "
            "electrode area (cm²).",
            parameter="conductivity_s_cm",
        )
    ]


def _cycles(rows: Iterable[Mapping[str, Any]], column: str) -> list[tuple[int, float]]:
    return [(r["cycle"], r[column]) for r in rows if _finite(r.get(column))]


def capacity_warnings(rows: list[Mapping[str, Any]], material: str | None) -> list[Warning_]:
    """Specific charge or discharge capacity above the material's theoretical capacity."""
    limit, what = capacity_limit(material)
    values = _cycles(rows, "charge_mAh_g") + _cycles(rows, "discharge_mAh_g")
    over = sorted({cycle for cycle, q in values if q > limit})
    if not over:
        return []
    cycle, highest = max(values, key=lambda cq: cq[1])
    return [
        warning(
            "capacity_above_theoretical",
            f"Specific capacity reaches {_g(highest)} mAh/g (cycle {cycle}), above {what}, in "
            f"{len(over)} of {len({c for c, _ in values})} cycles: check the active mass (mg).",
            parameter="active_mass_mg",
        )
    ]


def _missing_halves(row: Mapping[str, Any]) -> list[str]:
    """ "charge" and/or "discharge" when the cycle has no such capacity (a half-cycle only)."""
    return [
        word
        for word, column in (("charge", "charge_mAh"), ("discharge", "discharge_mAh"))
        if not _finite(row.get(column)) or row[column] <= 0
    ]


def first_cycle_warnings(rows: list[Mapping[str, Any]], material: str | None) -> list[Warning_]:
    """A first cycle that cannot be a whole cycle of the cell: no charge or no discharge (the
    file starts or ends mid-cycle), or a first-cycle capacity above the theoretical one."""
    if not rows:
        return []
    first = min(rows, key=lambda r: r["cycle"])
    out = []
    missing = _missing_halves(first)
    if missing:
        out.append(
            warning(
                "first_cycle_incomplete",
                f"Cycle {first['cycle']} has no {' and no '.join(missing)} capacity: the test "
                "probably starts mid-cycle, so its first-cycle efficiency and any retention "
                "relative to it are not meaningful (choose a later reference cycle).",
                parameter="reference_cycle",
            )
        )
    limit, what = capacity_limit(material)
    first_q = [q for q in (first.get("charge_mAh_g"), first.get("discharge_mAh_g")) if _finite(q)]
    if first_q and max(first_q) > limit:
        out.append(
            warning(
                "first_cycle_capacity_unphysical",
                f"First-cycle capacity {_g(max(first_q))} mAh/g (cycle {first['cycle']}) is "
                f"above {what}: the headline capacities are wrong until the active mass (mg) "
                "is corrected.",
                parameter="active_mass_mg",
            )
        )
    return out


def last_cycle_warnings(rows: list[Mapping[str, Any]]) -> list[Warning_]:
    """A last cycle with no charge or no discharge (the test was stopped mid-cycle): its
    capacity, and a retention or end-of-life cycle measured at it, are not a cycle's."""
    if len(rows) < 2:
        return []
    last = max(rows, key=lambda r: r["cycle"])
    missing = _missing_halves(last)
    if not missing:
        return []
    return [
        warning(
            "last_cycle_incomplete",
            f"The last cycle ({last['cycle']}) has no {' and no '.join(missing)} capacity: the "
            "test stopped mid-cycle, so the retention and the cycle below the threshold, "
            "which are read at the last cycle, are not meaningful.",
            parameter="cycle",
        )
    ]


def _over(rows, column: str, limit: float) -> tuple[list, list, tuple]:
    """(every cycle's value, those above ``limit``, the highest (cycle, value) of those)."""
    values = _cycles(rows, column)
    over = [(cycle, v) for cycle, v in values if v > limit]
    return values, over, max(over, key=lambda cv: cv[1]) if over else (None, None)


def coulombic_efficiency_warnings(rows: list[Mapping[str, Any]]) -> list[Warning_]:
    values, over, (cycle, highest) = _over(rows, "coulombic_efficiency", MAX_COULOMBIC_EFFICIENCY)
    if not over:
        return []
    return [
        warning(
            "coulombic_efficiency_above_limit",
            f"Coulombic efficiency is above {100 * MAX_COULOMBIC_EFFICIENCY:g} % in {len(over)} "
            f"of {len(values)} cycles (highest {100 * highest:.1f} % at cycle {cycle}): more "
            "charge came out than went in, so the cycles are mis-paired or the test is "
            "anode-first (CE here is discharge/charge of a cathode-limited cell).",
        )
    ]


def c_rate_warnings(rows: list[Mapping[str, Any]]) -> list[Warning_]:
    values, over, (cycle, highest) = _over(rows, "c_rate", MAX_C_RATE)
    if not over:
        return []
    return [
        warning(
            "c_rate_implausible",
            f"The current corresponds to {highest:g}C (cycle {cycle}), above "
            f"{MAX_C_RATE:g}C, in {len(over)} of {len(values)} cycles: the active mass (mg) is "
            "probably too small (1C = 200 mA/g).",
            parameter="active_mass_mg",
        )
    ]


def cycling_warnings(rows: list[Mapping[str, Any]], material: str | None) -> list[Warning_]:
    """Every plausibility warning of a per-cycle table (rows as dicts)."""
    return [
        *first_cycle_warnings(rows, material),
        *capacity_warnings(rows, material),
        *coulombic_efficiency_warnings(rows),
        *c_rate_warnings(rows),
    ]


def voltage_limit(instrument: str | None) -> tuple[float, str]:
    limit = INSTRUMENT_MAX_VOLTAGE_V.get(instrument or "", DEFAULT_MAX_VOLTAGE_V)
    name = INSTRUMENT_NAMES.get(instrument or "")
    return limit, (f"the {name}'s range of ±{limit:g} V" if name else f"±{limit:g} V")


def overpotential_warnings(
    overpotentials_V: Iterable[float], instrument: str | None
) -> list[Warning_]:
    """A stripping overpotential larger than the cycler can apply: a unit (mV read as V) or
    column mix-up, not a cell."""
    values = [v for v in overpotentials_V if _finite(v)]
    limit, what = voltage_limit(instrument)
    over = [v for v in values if abs(v) > limit]
    if not over:
        return []
    return [
        warning(
            "overpotential_beyond_instrument",
            f"Overpotential reaches {_g(max(over, key=abs))} V in {len(over)} of {len(values)} "
            f"half cycles, beyond {what}: check the file's voltage unit and column.",
        )
    ]
