"""How numbers read on the web pages (the API keeps full precision).

One rule for every page: a value that has at most four significant digits is shown exactly as
it is (a typed 0.6 mm stays "0.6", 900 °C stays "900"); a computed one is rounded to four
significant digits, keeping the zeros that are significant ("4.490" g, "0.5608" cm²). Very
small and very large magnitudes use scientific notation. A value with an uncertainty is
rounded to the uncertainty's decimal place, the uncertainty to one or two significant digits.
"""

from __future__ import annotations

import math
from decimal import Decimal

SIGNIFICANT = 4
SMALL, LARGE = 1e-3, 1e6  # outside [SMALL, LARGE): scientific notation


def _significant_digits(value: float) -> int:
    """Significant digits of the shortest text that gives back this float (0.6 -> 1)."""
    digits = Decimal(repr(value)).normalize().as_tuple().digits
    return max(1, len(digits))


def number(value, significant: int = SIGNIFICANT) -> str:
    """A number as a lab page shows it; '' for None, NaN or infinity."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return ""
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e9:  # an exact whole number: every digit is real
        return str(int(value))
    digits = min(_significant_digits(value), significant)
    magnitude = math.floor(math.log10(abs(value)))
    if not SMALL <= abs(value) < LARGE:
        return f"{value:.{digits - 1}e}"
    decimals = max(0, digits - 1 - magnitude)
    if magnitude < 0 or digits > magnitude + 1:
        rounded = round(value, decimals)
        if rounded and math.floor(math.log10(abs(rounded))) > magnitude:  # 99.996 -> 100.0
            decimals = max(0, decimals - 1)
    text = f"{value:.{decimals}f}"
    return "0" if float(text) == 0 else text


# A value someone typed (a weighed 1.2896 g) is shown with every digit they gave, up to what a
# balance or a caliper can give; only float noise (0.1 + 0.2) is cut.
RECORDED_SIGNIFICANT = 7


def recorded(value) -> str:
    return number(value, significant=RECORDED_SIGNIFICANT)


def with_uncertainty(value, uncertainty) -> str:
    """0.36123 ± 0.00012 -> '0.36123 ± 0.00012'; 0.3612 ± 0.0042 -> '0.361 ± 0.004'.

    The uncertainty keeps two significant digits when its first digit is 1 or 2 (rounding
    those to one digit would change it by up to 50 %), one otherwise.
    """
    if value is None or uncertainty is None:
        return number(value)
    value, uncertainty = float(value), abs(float(uncertainty))
    if not (math.isfinite(value) and math.isfinite(uncertainty)) or uncertainty == 0:
        return number(value)
    magnitude = math.floor(math.log10(uncertainty))
    leading = int(uncertainty / 10**magnitude)
    keep = 2 if leading in (1, 2) else 1
    decimals = keep - 1 - magnitude
    rounded = round(uncertainty, decimals)
    if rounded >= 10 ** (magnitude + 1):  # 0.096 -> 0.1: one place fewer
        decimals -= 1
        rounded = round(uncertainty, decimals)
    places = max(0, decimals)
    if not SMALL <= abs(value) < LARGE and abs(value) > 0:
        # Scientific: the mantissa to the uncertainty's place.
        exponent = math.floor(math.log10(abs(value)))
        scale = 10.0**exponent
        mantissa_places = max(0, decimals + exponent)
        return (
            f"({value / scale:.{mantissa_places}f} ± {rounded / scale:.{mantissa_places}f})"
            f"e{exponent:+03d}"
        )
    return f"{round(value, decimals):.{places}f} ± {rounded:.{places}f}"
