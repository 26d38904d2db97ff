"""Reading the labels' QR codes back, independently of the library that drew them: the SVG's
path is drawn into pixels here and decoded by zxing-cpp (Apache-2.0)."""

from __future__ import annotations

import re

import numpy as np
import zxingcpp
from PIL import Image

_VIEWBOX = re.compile(r'viewBox="0 0 (\d+) (\d+)"')
_DARK_PATH = re.compile(r'<path[^>]*stroke="#000"[^>]*d="([^"]+)"')
_COMMAND = re.compile(r"([MmHh])\s*(-?[\d.]+)(?:[ ,](-?[\d.]+))?")


def svg_modules(svg: str) -> np.ndarray:
    """The dark modules of an SVG QR code whose dark path is a run of 1-unit-wide strokes
    (`M x y` / `m dx dy` to a row's middle, `h n` along it): True where dark."""
    width, height = map(int, _VIEWBOX.search(svg).groups())
    grid = np.zeros((height, width), dtype=bool)
    x = y = 0.0
    for command, a, b in _COMMAND.findall(_DARK_PATH.search(svg).group(1)):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:  # h: a horizontal stroke of length a through the middle of row y - 0.5
            end = x + float(a)
            grid[int(y - 0.5), int(min(x, end)) : int(max(x, end))] = True
            x = end
    return grid


def decode_svg(svg: str, scale: int = 8) -> list[str]:
    pixels = np.where(svg_modules(svg), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels.repeat(scale, 0).repeat(scale, 1))
    return decode_image(image)


def decode_image(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]
