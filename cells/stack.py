"""Pure rules of a cell stack: its notation, its validity, its active mass and currents."""

from __future__ import annotations

from dataclasses import dataclass

from synthesis.chemistry import NCM811_SPECIFIC_CURRENT_MA_G, c_rate_current_ma

SIDES = ("negative", "electrolyte", "positive")
ELECTRODE_KINDS = {"reagent_lot", "electrode_disk"}
ELECTROLYTE_KINDS = {"pellet", "membrane_piece", "ile_batch", "reagent_lot"}
# Which chemicals a reagent lot may be when it is a layer itself (foil, sputter target, a bought
# electrolyte); anything else (NCM811 powder as an electrode, a salt) is refused.
LOT_CATEGORIES = {
    "electrode": ("lithium_metal", "current_collector", "electrode_metal"),
    "electrolyte": ("electrolyte", "ionic_liquid"),
}
CATEGORY_WORDS = {
    "electrode": "lithium metal, current-collector foil or a blocking-electrode metal",
    "electrolyte": "a bought electrolyte or separator, or an ionic liquid",
}
# What to use instead of a whole sheet, powder or coating.
WHOLE_ITEM_HINTS = {
    "spe_membrane": "a membrane sheet: cut pieces from it (on its page) and give a piece's code",
    "lagp_batch": "a powder batch: press pellets from it and give a pellet's code",
    "cathode_coating": "a coating: punch disks from it and give a disk's code",
}
STANDARD_C_RATES = (0.1, 0.2, 0.5, 1.0)


@dataclass(frozen=True)
class LayerSpec:
    side: str
    kind: str  # the item's kind
    label: str  # how the layer appears in the notation
    code: str = ""
    active_mass_mg: float | None = None  # for cathode disks
    category: str = ""  # a reagent lot's chemical category


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
        problem = _layer_problem(layer)
        if problem:
            errors.append(f"Layer {index} ({layer.code or layer.label}) {problem}.")
    return errors


def _layer_problem(layer: LayerSpec) -> str:
    role = "electrolyte" if layer.side == "electrolyte" else "electrode"
    allowed = ELECTROLYTE_KINDS if role == "electrolyte" else ELECTRODE_KINDS
    if layer.kind in WHOLE_ITEM_HINTS:
        return f"is {WHOLE_ITEM_HINTS[layer.kind]}"
    if layer.kind not in allowed:
        return f"cannot be used as {'an electrolyte' if role == 'electrolyte' else 'an electrode'}"
    if layer.kind == "reagent_lot" and layer.category not in LOT_CATEGORIES[role]:
        return f"cannot be used as an {role}: a lot there must be {CATEGORY_WORDS[role]}"
    return ""


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
