"""Writes for cell builds: the stack, its notation and lineage, all or nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError

from core import jobs, signatures
from core.models import Item
from core.selectors import lineage_ids_sql
from core.services import record_save
from core.signals import notify_item_changed
from core.signatures import locking_signature

from . import stack
from .models import Cell, CellLayer

log = logging.getLogger(__name__)


def piece_errors(cell: Cell, layers: list[CellLayer]) -> list[str]:
    """A pellet, membrane piece or disk is one physical thing: it goes into one cell, once."""
    pieces = [layer for layer in layers if layer.is_piece]
    # A new version of a cell (the same physical cell, its record corrected) holds the old
    # version's pieces again.
    old = signatures.version_of(cell)
    carried = (
        set(CellLayer.objects.filter(cell=old, is_piece=True).values_list("item_id", flat=True))
        if old is not None and old.kind == cell.KIND
        else set()
    )
    # Lock the pieces' rows: two builds taking the same pellet at once must not both succeed.
    Item.objects.select_for_update().filter(pk__in=[layer.item_id for layer in pieces]).exists()
    elsewhere = dict(
        CellLayer.objects.filter(
            item_id__in=[layer.item_id for layer in pieces], is_piece=True, carried_over=False
        )
        .exclude(cell=cell)
        .values_list("item_id", "cell__code")
    )
    errors, seen = [], {}
    for layer in pieces:
        code = layer.item.code
        layer.carried_over = layer.item_id in carried
        if layer.item_id in elsewhere and not layer.carried_over:
            errors.append(
                f"Layer {layer.position}: {code} is already in {elsewhere[layer.item_id]}; "
                "a piece goes into one cell."
            )
        elif layer.item_id in seen:
            errors.append(
                f"Layer {layer.position}: {code} is already layer {seen[layer.item_id]} "
                "of this cell."
            )
        seen.setdefault(layer.item_id, layer.position)
    return errors


def _write_layers(cell: Cell, layers: list[Mapping[str, Any]]) -> None:
    built = []
    for position, data in enumerate(layers, start=1):
        layer = CellLayer(
            cell=cell,
            position=position,
            side=data["side"],
            item=data["item"],
            amount_ul=data.get("amount_ul"),
            label=data.get("label") or "",
        )
        # Constraints are the stack rules' job here: the old stack is still in the database.
        layer.full_clean(exclude=["cell"], validate_unique=False, validate_constraints=False)
        built.append(layer)
    specs = [layer.spec() for layer in built]
    errors = stack.stack_errors(specs) + _notation_errors(specs) + piece_errors(cell, built)
    if errors:
        raise ValidationError({"layers": errors})
    for old in cell.layers.all():
        old.delete()
    for layer in built:
        layer.save()
    _store_derived(cell, specs)


def _notation_errors(specs: list[stack.LayerSpec]) -> list[str]:
    # Labels come from chemicals' formulas and names, which can be long; the notation is
    # stored (lists filter on it), so a stack whose notation does not fit is refused here.
    longest = Cell._meta.get_field("notation").max_length
    if len(stack.notation(specs)) <= longest:
        return []
    return [
        f"The cell's notation would be longer than {longest} characters; "
        "give the layers shorter labels."
    ]


def _store_derived(cell: Cell, specs: list[stack.LayerSpec]) -> bool:
    notation, mass = stack.notation(specs), stack.active_mass_mg(specs)
    changed = [
        name
        for name, value in (("notation", notation), ("active_mass_mg", mass))
        if getattr(cell, name) != value
    ]
    if not changed:
        return False
    cell.notation, cell.active_mass_mg = notation, mass
    cell.summary = cell.describe()
    cell.save(update_fields=["notation", "active_mass_mg", "summary", "updated_at"])
    # Cycling results use the active mass; a notation-only change re-runs nothing.
    notify_item_changed(cell.pk, [*changed, "summary"])
    return True


def cell_refresh_derived(cell_id: int) -> bool:
    """Recompute a cell's notation and active mass from its stack (idempotent)."""
    cell = Cell.objects.filter(pk=cell_id).first()
    if cell is None:  # deleted since the task was queued
        return False
    signature = locking_signature(cell_id)
    if signature is not None:
        # A signed cell keeps the notation and active mass it was signed with.
        log.warning("%s not refreshed: %s; it is locked", cell.code, signature.describe())
        return False
    return _store_derived(cell, cell.layer_specs())


def cell_save(
    *,
    instance: Cell | None = None,
    user=None,
    fields: Mapping[str, Any],
    layers: Iterable[Mapping[str, Any]],
    expected_version: int | None = None,
) -> Cell:
    """Build (or rebuild) a cell from an ordered stack, negative electrode first.

    Each layer is a mapping with `side`, `item` (an Item), and optionally `amount_ul`, `label`.
    """
    layers = list(layers)
    return record_save(
        Cell,
        instance=instance,
        user=user,
        fields=fields,
        write_parts=lambda cell: _write_layers(cell, layers),
        expected_version=expected_version,
    )


def refresh_cells_descending_from(item_id: int) -> list[int]:
    """Queue a recomputation of every cell built (at any depth) from an item."""
    cell_ids = list(
        Cell.objects.filter(pk__in=lineage_ids_sql(item_id, "descendants")).values_list(
            "pk", flat=True
        )
    )
    for cell_id in cell_ids:
        jobs.enqueue("cells.tasks.refresh_cell_derived", cell_id)
    return cell_ids
