"""Pure rules of a cell stack: its notation, its validity, its active mass and currents."""

from __future__ import annotations

from dataclasses import dataclass

from synthesis.chemistry import NCM811_SPECIFIC_CURRENT_MA_G, c_rate_current_ma

SIDES = ("negative", "electrolyte", "positive")
ELECTRODE_KINDS = {"reagent_lot", "electrode_disk"}
ELECTROLYTE_KINDS = {"pellet", "spe_membrane", "ile_batch", "reagent_lot"}
STANDARD_C_RATES = (0.1, 0.2, 0.5, 1.0)


@dataclass(frozen=True)
class LayerSpec:
    side: str
    kind: str  # the item's kind
    label: str  # how the layer appears in the notation
    code: str = ""
    active_mass_mg: float | None = None  # for cathode disks


def notation(layers: list[LayerSpec]) -> str:
    """Li|ILE/SPE/LAGP/ILE|NCM811: electrodes outside the bars, electrolyte layers between."""
    groups = {side: [layer.label for layer in layers if layer.side == side] for side in SIDES}
    return "|".join("/".join(groups[side]) for side in SIDES)


def stack_errors(layers: list[LayerSpec]) -> list[str]:
    """What is wrong with a stack, in words a cell builder understands (empty if fine)."""
    errors = []
    sides = [layer.side for layer in layers]
    for side, name in (
        ("negative", "negative electrode"),
        ("electrolyte", "electrolyte layer"),
        ("positive", "positive electrode"),
    ):
        if side not in sides:
            errors.append(f"The stack has no {name}.")
    order = [SIDES.index(s) for s in sides if s in SIDES]
    if order != sorted(order):
        errors.append(
            "Layers must run from the negative electrode through the electrolyte "
            "to the positive electrode."
        )
    for index, layer in enumerate(layers, start=1):
        allowed = ELECTROLYTE_KINDS if layer.side == "electrolyte" else ELECTRODE_KINDS
        if layer.kind not in allowed:
            errors.append(
                f"Layer {index} ({layer.code or layer.label}) cannot be used as "
                f"{'an electrolyte' if layer.side == 'electrolyte' else 'an electrode'}."
            )
    return errors


def active_mass_mg(layers: list[LayerSpec]) -> float | None:
    """Active material of the positive electrode (cathode-limited cell), None if it has none."""
    masses = [
        layer.active_mass_mg
        for layer in layers
        if layer.side == "positive" and layer.active_mass_mg is not None
    ]
    return sum(masses) if masses else None


def c_rate_currents(
    active_mass: float | None,
    rates=STANDARD_C_RATES,
    specific_current_ma_g: float = NCM811_SPECIFIC_CURRENT_MA_G,
) -> dict[float, float]:
    if active_mass is None:
        return {}
    return {rate: c_rate_current_ma(active_mass, rate, specific_current_ma_g) for rate in rates}


def is_symmetric(layers: list[LayerSpec]) -> bool:
    neg = [layer.label for layer in layers if layer.side == "negative"]
    pos = [layer.label for layer in layers if layer.side == "positive"]
    return bool(neg) and neg == pos[::-1]
