"""Writes for synthesis records; the web forms, the admin actions and the API call these."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from core.models import Item
from core.services import apply_changes, item_create, item_update, record_save, sync_lineage
from core.signals import notify_item_changed
from core.signatures import RecordLocked, making_version_of, supersede

from . import units
from .models import (
    CathodeCoating,
    Chemical,
    ElectrodeDisk,
    LagpBatch,
    LotUse,
    MembranePiece,
    Pellet,
    PelletSet,
    Piece,
    PrecursorUse,
    ReagentLot,
    ReagentUse,
    SpeMembrane,
    category_error,
)

MAX_SET_SIZE = 100


@transaction.atomic
def chemical_save(
    *,
    instance: Chemical | None = None,
    fields: Mapping[str, Any],
    expected_version: int | None = None,
) -> Chemical:
    """Add a chemical to the catalogue (or correct one); its lots then name it."""
    if instance is None:
        chemical = Chemical(**fields)
        chemical.full_clean()
        chemical.save()
        return chemical
    chemical, changed = apply_changes(instance, fields, expected_version=expected_version)
    if "category" in changed:
        _check_lots_still_fit(chemical)
    if changed:
        chemical.save(update_fields=changed)
    return chemical


def _check_lots_still_fit(chemical: Chemical) -> None:
    """A new category must still suit every slot the chemical's lots are used in."""
    item_ids = LotUse.objects.filter(lot__chemical=chemical).values_list("item", flat=True)
    for item in Item.objects.filter(pk__in=item_ids).order_by("code"):
        for use in item.specific.reagent_uses():
            if use.lot.chemical_id != chemical.pk:
                continue
            use.lot.chemical = chemical  # with its new category
            message = category_error(use.slot, use.lot, use.categories)
            if message:
                raise ValidationError({"category": f"{item.code} uses a lot of it. {message}"})


# --- reagent lots: what each slot accepts, and what records take from them -----------------


# The code of the error a user may override by confirming (forms show a box, the API takes
# `confirm_overdraw`).
OVERDRAW = "overdraw"


def _wanted_uses(uses: Iterable[ReagentUse]) -> tuple[dict, dict[str, list[str]]]:
    """{(lot id, slot): (use, amount in the lot's unit)} for uses that record an amount."""
    wanted, errors = {}, {}
    for use in uses:
        if use.amount is None:
            continue
        try:
            amount = units.convert(use.amount, use.unit, use.lot.quantity_unit)
        except units.IncompatibleUnits as exc:
            errors.setdefault(use.field, []).append(f"{use.slot}: {use.lot.code}: {exc}.")
            continue
        wanted[(use.lot.pk, use.slot)] = (use, amount)
    return wanted, errors


def sync_lot_uses(item: Item, uses: Iterable[ReagentUse], *, confirm_overdraw: bool) -> None:
    """Make the lots' recorded uses by `item` equal to `uses`, refusing a use that takes more
    than a lot has left unless the user confirmed it (then it is kept with a warning)."""
    wanted, errors = _wanted_uses(uses)
    # Lock the lots so two records drawing on one lot at once cannot both see enough left.
    lots = {
        lot.pk: lot
        for lot in ReagentLot.objects.select_for_update().filter(
            pk__in={lot_id for lot_id, _ in wanted}
        )
    }
    overdrawn = set()
    for (lot_id, slot), (use, amount) in wanted.items():
        lot = lots[lot_id]
        others = (
            LotUse.objects.filter(lot=lot).exclude(item=item, slot=slot).aggregate(s=Sum("amount"))
        )["s"] or 0.0
        left = lot.quantity - others
        if amount > left + 1e-9 * max(1.0, lot.quantity):
            overdrawn.add((lot_id, slot))
            if not confirm_overdraw:
                unit = lot.get_quantity_unit_display()
                errors.setdefault(use.field, []).append(
                    ValidationError(
                        f"{slot}: {lot.code} has {max(left, 0):.4g} {unit} left and this "
                        f"record uses {amount:.4g} {unit}; confirm to record it anyway.",
                        code=OVERDRAW,
                    )
                )
    if errors:
        raise ValidationError(errors)
    for old in LotUse.objects.filter(item=item):
        if (old.lot_id, old.slot) not in wanted:
            old.delete()  # one by one, so the lot's history shows the use given back
    for (lot_id, slot), (_use, amount) in wanted.items():
        current = LotUse.objects.filter(lot_id=lot_id, item=item, slot=slot).first() or LotUse(
            lot_id=lot_id, item=item, slot=slot
        )
        if current.pk is None or (current.amount, current.overdrawn) != (
            amount,
            (lot_id, slot) in overdrawn,
        ):
            current.amount, current.overdrawn = amount, (lot_id, slot) in overdrawn
            current.save()


def reagent_record_save(
    model,
    *,
    instance=None,
    user=None,
    fields: Mapping[str, Any],
    steps: Iterable[Mapping[str, Any]] | None = None,
    write_parts=None,
    confirm_overdraw: bool = False,
    expected_version: int | None = None,
):
    """`core.services.record_save` for records made from reagent lots (whose `clean()` checks
    that each lot suits its slot): what the record used is taken from the lots, all or
    nothing."""
    with transaction.atomic():
        item = record_save(
            model,
            instance=instance,
            user=user,
            fields=fields,
            steps=steps,
            write_parts=write_parts,
            expected_version=expected_version,
        )
        sync_lot_uses(item, item.reagent_uses(), confirm_overdraw=confirm_overdraw)
    return item


def _write_precursors(batch: LagpBatch, precursors: Iterable[Mapping[str, Any]]) -> None:
    uses, errors = [], []
    for row, data in enumerate(precursors, start=1):
        use = PrecursorUse(batch=batch, **data)
        try:
            use.full_clean(exclude=["batch"], validate_unique=False)
        except ValidationError as exc:
            errors.extend(f"Row {row}: {message}" for message in exc.messages)
        uses.append(use)
    if errors:
        raise ValidationError({"precursors": errors})
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
    confirm_overdraw: bool = False,
    expected_version: int | None = None,
) -> LagpBatch:
    precursors = list(precursors)
    return reagent_record_save(
        LagpBatch,
        instance=instance,
        user=user,
        fields=fields,
        steps=steps,
        write_parts=lambda batch: _write_precursors(batch, precursors),
        confirm_overdraw=confirm_overdraw,
        expected_version=expected_version,
    )


# --- pieces: pellets, membrane pieces and disks, made N at a time -----------------------------


def pieces_create(model, *, user=None, count: int, what: str, fields: Mapping[str, Any]) -> list:
    """Make `count` pieces of one kind with the same values (`what` names them in the error:
    "Punch between 1 and 100 disks at once.")."""
    if not 1 <= count <= MAX_SET_SIZE:
        raise ValidationError({"count": f"Make between 1 and {MAX_SET_SIZE} {what} at once."})
    pieces = []
    for _ in range(count):
        piece = item_create(model, user=user, **fields)
        sync_lineage(piece)
        pieces.append(piece)
    return pieces


@transaction.atomic
def pellet_set_create(
    *, user=None, batch: LagpBatch, count: int, fields: Mapping[str, Any]
) -> PelletSet:
    """Press and sinter `count` pellets from one batch under the same conditions."""
    pellet_set = PelletSet(batch=batch, **fields)
    pellet_set.full_clean()
    pellet_set.save()
    # Pieces belong to their sheet's or batch's project (the user must record in it).
    pieces_create(
        Pellet,
        user=user,
        count=count,
        what="pellets",
        fields={"pellet_set": pellet_set, "project": batch.project},
    )
    return pellet_set


@transaction.atomic
def pellet_set_update(
    pellet_set: PelletSet, *, fields: Mapping[str, Any], expected_version: int | None = None
) -> PelletSet:
    pellet_set, changed = apply_changes(pellet_set, fields, expected_version=expected_version)
    if not changed:
        return pellet_set
    pellet_set.save(update_fields=changed)
    for pellet in pellet_set.pellets.all():
        sync_lineage(pellet)
        # The set's conditions are no measurement input (they are not the pellet's own fields),
        # but a listener may still want to know; they are named as the set's fields.
        notify_item_changed(pellet.pk, [f"pellet_set.{name}" for name in changed])
    return pellet_set


@transaction.atomic
def pellets_measure(
    measurements: Mapping[Pellet, Mapping[str, Any]],
    *,
    expected_versions: Mapping[int, int | None] | None = None,
) -> None:
    """Record thickness, diameter and mass of pellets after sintering and polishing
    (`expected_versions`: pellet id -> the version the values were entered against)."""
    errors, saved = {}, []
    versions = expected_versions or {}
    for pellet, values in measurements.items():
        try:
            saved.append(item_update(pellet, expected_version=versions.get(pellet.pk), **values))
        except RecordLocked:
            raise  # names the signature itself; not one pellet's field error among others
        except ValidationError as exc:
            errors[pellet.code] = exc.messages
    if errors:
        raise ValidationError([f"{code}: {'; '.join(msgs)}" for code, msgs in errors.items()])
    for pellet in saved:
        sync_lineage(pellet)


def piece_own_fields(model: type[Item]) -> list[str]:
    """What a piece records about itself (a pellet's thickness, a disk's loading, its notes),
    not its set's conditions: what its new version may correct."""
    names = [
        f.name
        for f in model._meta.local_concrete_fields
        if f.editable and not f.primary_key and f.name != model.PIECE_OF
    ]
    return [*names, "notes"]


@transaction.atomic
def piece_new_version(old: Piece, *, user=None, fields: Mapping[str, Any]) -> Item:
    """A corrected new version of one piece: a new piece of the same set (same conditions,
    same sheet, same project) carrying the old one's values with `fields` corrected, linked
    as its new version. The old piece, and its set's signature, stay as they were signed."""
    model = type(old)
    own = piece_own_fields(model)
    unknown = sorted(set(fields) - set(own))
    if unknown:
        raise ValidationError(
            {
                name: "A new version of a piece corrects its own values only; its set's "
                "conditions are the set's."
                for name in unknown
            }
        )
    values = {name: getattr(old, name) for name in own} | dict(fields)
    with making_version_of(old):
        new = item_create(
            model,
            user=user,
            project=old.project,
            **{model.PIECE_OF: getattr(old, model.PIECE_OF)},
            **values,
        )
        sync_lineage(new)
        supersede(new, old, user=user)
    return new


@transaction.atomic
def electrode_disks_create(
    *, user=None, coating: CathodeCoating, count: int, fields: Mapping[str, Any]
) -> list[ElectrodeDisk]:
    """Punch `count` disks out of a coating."""
    return pieces_create(
        ElectrodeDisk,
        user=user,
        count=count,
        what="disks",
        fields={"coating": coating, "project": coating.project, **fields},
    )


@transaction.atomic
def membrane_pieces_create(
    *, user=None, membrane: SpeMembrane, count: int, fields: Mapping[str, Any]
) -> list[MembranePiece]:
    """Cut `count` pieces out of a membrane sheet, one for each cell layer."""
    return pieces_create(
        MembranePiece,
        user=user,
        count=count,
        what="pieces",
        fields={"membrane": membrane, "project": membrane.project, **fields},
    )


@transaction.atomic
def electrode_disk_update(
    disk: ElectrodeDisk, *, fields: Mapping[str, Any], expected_version: int | None = None
) -> ElectrodeDisk:
    """Change a disk; the cells built on it get their active mass recomputed by a worker (the
    cells app listens to `item_changed`, which `item_update` sends when a value changed)."""
    disk = item_update(disk, expected_version=expected_version, **fields)
    sync_lineage(disk)
    return disk
