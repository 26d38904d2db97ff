"""Units a reagent lot is counted in, and converting a use into the lot's unit (pure)."""

from __future__ import annotations

GRAM = "g"
MILLIGRAM = "mg"
KILOGRAM = "kg"
MILLILITRE = "mL"
LITRE = "L"
SQUARE_CM = "cm2"
PIECES = "pcs"

QUANTITY_UNITS = [
    (GRAM, "g"),
    (MILLIGRAM, "mg"),
    (KILOGRAM, "kg"),
    (MILLILITRE, "mL"),
    (LITRE, "L"),
    (SQUARE_CM, "cm²"),
    (PIECES, "pieces"),
]
LABELS = dict(QUANTITY_UNITS)

# unit -> (dimension, factor to the dimension's base unit)
_SCALE = {
    GRAM: ("mass", 1.0),
    MILLIGRAM: ("mass", 1e-3),
    KILOGRAM: ("mass", 1e3),
    MILLILITRE: ("volume", 1.0),
    LITRE: ("volume", 1e3),
    SQUARE_CM: ("area", 1.0),
    PIECES: ("count", 1.0),
}


class IncompatibleUnits(ValueError):
    pass


def convert(amount: float, from_unit: str, to_unit: str) -> float:
    """`amount` in `from_unit` expressed in `to_unit`; a mass cannot become a volume (that
    would need a density the record does not have)."""
    source, target = _SCALE[from_unit], _SCALE[to_unit]
    if source[0] != target[0]:
        raise IncompatibleUnits(
            f"{LABELS[from_unit]} cannot be taken from a lot counted in {LABELS[to_unit]}"
        )
    return amount * source[1] / target[1]
