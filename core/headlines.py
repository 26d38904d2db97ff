"""What the lab's apps add to the core's generic pages without the core importing them.

- Headline results at the top of an item page: `register(kind, provider)`; a provider takes
  the item and returns a `Headlines` (facts, the warnings of the results they come from, and a
  small plot) or None. The measurements app gives a pellet's conductivity and activation
  energy, a cell's capacities; synthesis a pellet's relative density.
- Result columns in a kind's list: `register_columns(kind, columns)`; each column carries the
  database annotation that computes it, so the list shows and sorts it in its one query.
- Panels of the home page: `register_panel(panel)`; a panel renders its own template.

Apps fill the registries in their `AppConfig.ready`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from .models import Item
from .tables import Column


@dataclass(frozen=True)
class Fact:
    label: str  # the quantity with its unit, "σ at 25 °C (S/cm)"
    value: str  # as the page shows it, "3.24e-04 ± 5.1e-07"
    note: str = ""  # e.g. "measured at 40 °C, the nearest to 25 °C"
    key: str = ""  # a stable name for tests and styling
    url: str = ""  # where the number comes from (a measurement page)


@dataclass
class Headlines:
    facts: list[Fact] = field(default_factory=list)
    # The warnings of the results the facts come from, in the user's words.
    warnings: list[str] = field(default_factory=list)
    # Drawn with LIMS.plot: {"traces": [...], "layout": {...}} (every axis titled).
    plot: dict[str, Any] | None = None


Provider = Callable[[Item], Headlines | None]
_PROVIDERS: dict[str, list[tuple[int, Provider]]] = {}
_COLUMNS: dict[str, list[Column]] = {}


def register(kind: str, provider: Provider, position: int = 100) -> None:
    """Add headline facts to the pages of `kind`; lower `position` first."""
    entries = _PROVIDERS.setdefault(kind, [])
    if provider not in (p for _, p in entries):
        entries.append((position, provider))
        entries.sort(key=lambda entry: entry[0])


def headlines(item: Item) -> Headlines:
    """Every registered provider's facts for the item, merged (the first plot wins)."""
    merged = Headlines()
    for _, provider in _PROVIDERS.get(item.kind, []):
        part = provider(item)
        if part is None:
            continue
        merged.facts.extend(part.facts)
        merged.warnings.extend(part.warnings)
        merged.plot = merged.plot or part.plot
    return merged


def register_columns(kind: str, columns: Sequence[Column]) -> None:
    """Add columns to the web list of `kind` (each with its `annotation`)."""
    known = {c.key for c in _COLUMNS.get(kind, [])}
    _COLUMNS.setdefault(kind, []).extend(c for c in columns if c.key not in known)


def columns(kind: str) -> list[Column]:
    return list(_COLUMNS.get(kind, []))


@dataclass(frozen=True)
class Panel:
    """A section of the home page: `context(request)` gives its template's context, or None
    to leave it out."""

    name: str
    template: str
    context: Callable[[HttpRequest], dict | None]
    position: int = 100


_PANELS: list[Panel] = []


def register_panel(panel: Panel) -> None:
    if all(p.name != panel.name for p in _PANELS):
        _PANELS.append(panel)
        _PANELS.sort(key=lambda p: p.position)


def panels(request: HttpRequest) -> list[dict]:
    """The home page's panels, each as {"name", "template", "context"}."""
    shown = []
    for panel in _PANELS:
        context = panel.context(request)
        if context is not None:
            shown.append({"name": panel.name, "template": panel.template, "context": context})
    return shown
