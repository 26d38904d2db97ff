"""Writes for synthesis records; the web forms, the admin actions and the API call these."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from lims.services import item_create, item_update, record_save, sync_lineage

from .models import (
    CathodeCoating,
    Chemical,
    ElectrodeDisk,
    LagpBatch,
    Pellet,
    PelletSet,
    PrecursorUse,
)

MAX_SET_SIZE = 100


def chemical_save(*, instance: Chemical | None = None, fields: Mapping[str, Any]) -> Chemical:
    """Add a chemical to the catalogue (or correct one); its lots then name it."""
    chemical = instance or Chemical()
    for name, value in fields.items():
        setattr(chemical, name, value)
    chemical.full_clean()
    chemical.save()
    return chemical


def _write_precursors(batch: LagpBatch, precursors: Iterable[Mapping[str, Any]]) -> None:
    uses = []
    for data in precursors:
        use = PrecursorUse(batch=batch, **data)
        use.full_clean(exclude=["batch"], validate_unique=False)
        uses.append(use)
    for old in batch.precursors.all():
        old.delete()
    for use in uses:
        use.save()


def lagp_batch_save(
    *,
    instance: LagpBatch | None = None,
    user=None,
    fields: Mapping[str, Any],
    precursors: Iterable[Mapping[str, Any]] = (),
    steps: Iterable[Mapping[str, Any]] | None = None,
) -> LagpBatch:
    precursors = list(precursors)
    return record_save(
        LagpBatch,
        instance=instance,
        user=user,
        fields=fields,
        steps=steps,
        write_parts=lambda batch: _write_precursors(batch, precursors),
    )


@transaction.atomic
def pellet_set_create(
    *, user=None, batch: LagpBatch, count: int, fields: Mapping[str, Any]
) -> PelletSet:
    """Press and sinter `count` pellets from one batch under the same conditions."""
    if not 1 <= count <= MAX_SET_SIZE:
        raise ValidationError({"count": f"Make between 1 and {MAX_SET_SIZE} pellets at once."})
    pellet_set = PelletSet(batch=batch, **fields)
    pellet_set.full_clean()
    pellet_set.save()
    for _ in range(count):
        pellet = item_create(Pellet, user=user, pellet_set=pellet_set)
        sync_lineage(pellet)
    return pellet_set


@transaction.atomic
def pellet_set_update(pellet_set: PelletSet, *, fields: Mapping[str, Any]) -> PelletSet:
    for name, value in fields.items():
        setattr(pellet_set, name, value)
    pellet_set.full_clean()
    pellet_set.save()
    for pellet in pellet_set.pellets.all():
        sync_lineage(pellet)
    return pellet_set


@transaction.atomic
def pellets_measure(measurements: Mapping[Pellet, Mapping[str, Any]]) -> None:
    """Record thickness, diameter and mass of pellets after sintering and polishing."""
    errors = {}
    for pellet, values in measurements.items():
        try:
            item_update(pellet, **values)
        except ValidationError as exc:
            errors[pellet.code] = exc.messages
    if errors:
        raise ValidationError([f"{code}: {'; '.join(msgs)}" for code, msgs in errors.items()])
    for pellet in measurements:
        sync_lineage(pellet)


@transaction.atomic
def electrode_disks_create(
    *, user=None, coating: CathodeCoating, count: int, fields: Mapping[str, Any]
) -> list[ElectrodeDisk]:
    """Punch `count` disks out of a coating."""
    if not 1 <= count <= MAX_SET_SIZE:
        raise ValidationError({"count": f"Punch between 1 and {MAX_SET_SIZE} disks at once."})
    disks = []
    for _ in range(count):
        disk = item_create(ElectrodeDisk, user=user, coating=coating, **fields)
        sync_lineage(disk)
        disks.append(disk)
    return disks


@transaction.atomic
def electrode_disk_update(disk: ElectrodeDisk, *, fields: Mapping[str, Any]) -> ElectrodeDisk:
    """Change a disk; the cells built on it get their active mass recomputed by a worker."""
    from cells.services import refresh_cells_descending_from

    item_update(disk, **fields)
    sync_lineage(disk)
    transaction.on_commit(lambda: refresh_cells_descending_from(disk.pk))
    return disk
