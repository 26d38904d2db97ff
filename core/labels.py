"""Printable item labels: the label stocks the lab prints on, the QR code that opens an item's
page, and the reverse, reading a code a barcode scanner typed into the search box.

Sizes are millimetres, as the stock's data sheet gives them; the page prints them with
`@page` and mm lengths, so the browser's print (scale 100 %) puts each label on its die-cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

import segno


@dataclass(frozen=True)
class Layout:
    key: str
    name: str
    page_w: float  # mm
    page_h: float
    label_w: float
    label_h: float
    columns: int = 1
    rows: int = 1
    margin_top: float = 0.0  # page edge to the first label
    margin_left: float = 0.0
    gap_x: float = 0.0  # between labels
    # White inside the label's edge: on a sheet whose labels reach the paper's edge, enough
    # to clear a laser printer's unprintable margin (about 4 mm).
    padding: float = 2.0

    @property
    def qr_size(self) -> float:
        """The QR code is a square as tall as the label allows."""
        return round(self.label_h - 2 * self.padding, 2)

    @property
    def text_w(self) -> float:
        return round(self.label_w - self.qr_size - 3 * self.padding, 2)

    @property
    def code_font(self) -> float:
        """mm: a 10-character code (SPEP-10000) fits the text's width on one line."""
        return round(min(4.5, self.text_w / 6.0), 2)

    @property
    def small_font(self) -> float:
        return round(self.code_font * 0.6, 2)

    @property
    def summary_lines(self) -> int:
        """Lines of summary below the code and the kind, at 1.2 line height."""
        free = self.qr_size - 1.2 * (self.code_font + self.small_font)
        return max(1, int(free // (1.2 * self.small_font)))

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def is_roll(self) -> bool:
        """A label printer's roll: one label is one page."""
        return self.per_page == 1


def _sheet(key, name, label_w, label_h, columns, rows, gap_x=0.0, padding=3.0) -> Layout:
    """An A4 sheet whose grid of labels is centred, as the makers' templates place it."""
    page_w, page_h = 210.0, 297.0
    used_w = columns * label_w + (columns - 1) * gap_x
    used_h = rows * label_h
    return Layout(
        key=key,
        name=name,
        page_w=page_w,
        page_h=page_h,
        label_w=label_w,
        label_h=label_h,
        columns=columns,
        rows=rows,
        margin_top=round((page_h - used_h) / 2, 2),
        margin_left=round((page_w - used_w) / 2, 2),
        gap_x=gap_x,
        padding=padding,
    )


def _roll(key, name, label_w, label_h) -> Layout:
    return Layout(key, name, label_w, label_h, label_w, label_h)


LAYOUTS = {
    layout.key: layout
    for layout in (
        _roll("brother-62x29", "Brother QL, 62 × 29 mm (DK-11209)", 62.0, 29.0),
        _roll("dymo-54x25", "Dymo LabelWriter, 54 × 25 mm (11352)", 54.0, 25.0),
        _roll("thermal-51x25", "Thermal roll 2 × 1 in, 51 × 25 mm (Zebra-type)", 50.8, 25.4),
        # Avery 3474 and its kin: 24 labels edge to edge, 0.5 mm top and bottom.
        _sheet(
            "a4-3x8", "A4, 3 × 8 labels of 70 × 37 mm (Avery 3474)", 70.0, 37.0, 3, 8, padding=4
        ),
        # Avery L7160: 21 labels, 2.54 mm (0.1 in) between columns, 15.15 mm top margin.
        _sheet(
            "a4-3x7", "A4, 3 × 7 labels of 63.5 × 38.1 mm (Avery L7160)", 63.5, 38.1, 3, 7, 2.54
        ),
    )
}
DEFAULT_LAYOUT = "brother-62x29"

# A page of labels is one request: past this many, print in parts (ten A4 sheets of 24).
MAX_LABELS = 240


def qr_svg(text: str) -> str:
    """An inline SVG of `text` as a QR code, sized by the page (no width/height: a viewBox),
    black on white even in dark mode so a phone can read it from the screen too. Error
    correction M at least (segno raises it when the size allows): a label survives a smudge.
    A quiet zone of 2 modules, the label's own white padding adds to it."""
    qr = segno.make(text, error="m", micro=False)
    return qr.svg_inline(border=2, omitsize=True, dark="#000", light="#fff")


# A scanner reading the QR types the whole URL: https://host/items/PEL-0003/ (or a path).
_ITEM_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://[^/\s]*)?/items/([^/?#\s]+)", re.IGNORECASE)


def scanned_code(text: str) -> str:
    """The item code in what a barcode scanner (or a person) typed into the search box: the
    code itself with any surrounding whitespace, or an item page's URL as the label's QR code
    holds it."""
    text = text.strip()
    match = _ITEM_URL.match(text)
    return unquote(match.group(1)) if match else text


def parse_codes(values: list[str]) -> list[str]:
    """Item codes from `?items=A&items=B` or one box holding `A, B C`: upper case, in the
    order given, each once."""
    codes: list[str] = []
    for value in values:
        for part in re.split(r"[\s,;]+", value):
            code = scanned_code(part).upper()
            if code and code not in codes:
                codes.append(code)
    return codes
