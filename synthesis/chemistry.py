"""Stoichiometry a chemist expects from the forms: pure functions, no database.

Molar masses are computed from IUPAC standard atomic weights rather than typed in, so a change
of composition (x in Li(1+x)Al(x)Ge(2-x)(PO4)3) gives the right formula mass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ATOMIC_WEIGHT = {
    "H": 1.008,
    "Li": 6.94,
    "C": 12.011,
    "N": 14.007,
    "O": 15.999,
    "Al": 26.982,
    "P": 30.974,
    "Ge": 72.630,
}

# Paper's values (DESIGN.md section 1), used as form defaults.
DEFAULT_X = 0.5
DEFAULT_LI_EXCESS_PCT = 10.0
DEFAULT_TARGET_MASS_G = 10.0
LAGP_THEORETICAL_DENSITY_G_CM3 = 3.47
EO_UNIT_G_MOL = 44.05
LIFSI_G_MOL = 187.07
PYR14FSI_G_MOL = 322.4
LITFSI_G_MOL = 287.09
NCM811_SPECIFIC_CURRENT_MA_G = 200.0  # the paper's 1C


def formula_mass(composition: dict[str, float]) -> float:
    return sum(ATOMIC_WEIGHT[element] * count for element, count in composition.items())


LI2CO3 = formula_mass({"Li": 2, "C": 1, "O": 3})
AL_NITRATE_9H2O = formula_mass({"Al": 1, "N": 3, "O": 9 + 9, "H": 18})
GEO2 = formula_mass({"Ge": 1, "O": 2})
NH4H2PO4 = formula_mass({"N": 1, "H": 6, "P": 1, "O": 4})


def lagp_molar_mass(x: float) -> float:
    """M of Li(1+x)Al(x)Ge(2-x)(PO4)3 in g/mol (417.76 for x = 0.5)."""
    return formula_mass({"Li": 1 + x, "Al": x, "Ge": 2 - x, "P": 3, "O": 12})


@dataclass(frozen=True)
class PrecursorMass:
    role: str  # "li" | "al" | "ge" | "p": which element the precursor supplies
    name: str
    formula: str
    molar_mass_g_mol: float
    mol_per_mol_lagp: float
    mass_g: float


def lagp_precursors(target_mass_g: float, x: float, li_excess_pct: float) -> list[PrecursorMass]:
    """Masses of the four precursors for `target_mass_g` of LAGP.

    Per mol LAGP: (1+x)/2 mol Li2CO3 times (1 + excess) (lithium is lost by volatilisation during
    calcination), x mol Al(NO3)3·9H2O, (2-x) mol GeO2, 3 mol NH4H2PO4.
    """
    if target_mass_g <= 0:
        raise ValueError("target mass must be positive")
    if not 0 <= x <= 1:
        raise ValueError("x must be between 0 and 1")
    if not 0 <= li_excess_pct <= 100:
        raise ValueError("Li excess must be between 0 and 100 %")
    n_lagp = target_mass_g / lagp_molar_mass(x)
    recipe = [
        ("li", "Lithium carbonate", "Li2CO3", LI2CO3, (1 + x) / 2 * (1 + li_excess_pct / 100)),
        ("al", "Aluminium nitrate nonahydrate", "Al(NO3)3·9H2O", AL_NITRATE_9H2O, x),
        ("ge", "Germanium(IV) oxide", "GeO2", GEO2, 2 - x),
        ("p", "Ammonium dihydrogen phosphate", "NH4H2PO4", NH4H2PO4, 3.0),
    ]
    return [
        PrecursorMass(role, name, formula, molar, per_mol, n_lagp * per_mol * molar)
        for role, name, formula, molar, per_mol in recipe
    ]


def parse_ratio(text: str, parts: int) -> tuple[float, ...]:
    """'10:1:4' -> (10.0, 1.0, 4.0). Raises ValueError with a message fit for a form."""
    pieces = [p.strip() for p in str(text).replace("/", ":").split(":")]
    if len(pieces) != parts:
        raise ValueError(f"expected {parts} numbers separated by ':', e.g. 10:1:4; got {text!r}")
    try:
        values = tuple(float(p.replace(",", ".")) for p in pieces)
    except ValueError:
        raise ValueError(f"{text!r} is not a ratio of numbers, e.g. 10:1:4") from None
    if any(not math.isfinite(v) or v < 0 for v in values) or not any(values):
        raise ValueError("ratio parts must be non-negative numbers, not all zero")
    return values


def weight_percentages(
    moles: tuple[float, ...], molar_masses: tuple[float, ...]
) -> tuple[float, ...]:
    masses = [n * m for n, m in zip(moles, molar_masses, strict=True)]
    total = sum(masses)
    return tuple(100 * m / total for m in masses)


def spe_weight_percentages(eo: float, lifsi: float, pyr14fsi: float) -> tuple[float, float, float]:
    """PEO:LiFSI:Pyr14FSI as moles of EO units : salt : IL -> wt% (10:1:4 is 23.0:9.8:67.3)."""
    return weight_percentages((eo, lifsi, pyr14fsi), (EO_UNIT_G_MOL, LIFSI_G_MOL, PYR14FSI_G_MOL))


def ile_weight_percentages(pyr14fsi_mol_fraction: float) -> tuple[float, float]:
    """0.8 Pyr14FSI - 0.2 LiTFSI (molar) -> wt% of each."""
    if not 0 < pyr14fsi_mol_fraction < 1:
        raise ValueError("mole fraction must be between 0 and 1")
    return weight_percentages(
        (pyr14fsi_mol_fraction, 1 - pyr14fsi_mol_fraction), (PYR14FSI_G_MOL, LITFSI_G_MOL)
    )


def disk_area_cm2(diameter_mm: float) -> float:
    return math.pi * (diameter_mm / 20) ** 2


def relative_density(
    mass_mg: float,
    diameter_mm: float,
    thickness_mm: float,
    theoretical_g_cm3: float = LAGP_THEORETICAL_DENSITY_G_CM3,
) -> float:
    """Geometric density of a cylinder over the theoretical density (a fraction)."""
    volume_cm3 = disk_area_cm2(diameter_mm) * thickness_mm / 10
    return (mass_mg / 1000) / volume_cm3 / theoretical_g_cm3


def active_mass_mg(loading_mg_cm2: float, diameter_mm: float) -> float:
    """A 12 mm disk at 2.7 mg/cm2 holds 3.054 mg of active material."""
    return loading_mg_cm2 * disk_area_cm2(diameter_mm)


def c_rate_current_ma(
    active_mass_mg_: float,
    c_rate: float,
    specific_current_ma_g: float = NCM811_SPECIFIC_CURRENT_MA_G,
) -> float:
    """Current for a C-rate, with 1C = 200 mA per g NCM811 (the paper's definition)."""
    return active_mass_mg_ / 1000 * specific_current_ma_g * c_rate
