"""Real instrument exports copied into the repository (origins and licences in
tests/data/instrument-files/INDEX.md), so the suite runs from a clone with nothing beside it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent / "data" / "instrument-files"


def instrument_file(relative: str) -> Path:
    """A real file by its path under tests/data/instrument-files, e.g. 'cellpy/biol.mpr'."""
    path = ROOT / relative
    if not path.is_file():
        raise FileNotFoundError(f"{relative} is not in tests/data/instrument-files (see INDEX.md)")
    return path
