"""Writes of the shared core: item codes, lineage edges, process steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Model

from .models import CodeCounter, Item, LineageEdge, ProcessStep
from .permissions import project_for_new_item
from .selectors import is_ancestor
from .signals import notify_item_changed
from .signatures import check_unlocked

ItemT = TypeVar("ItemT", bound=Item)
ModelT = TypeVar("ModelT", bound=Model)


# Fields of a form or an API body that say how to write rather than what (confirm a use beyond
# what a reagent lot has left); the services take them as keyword arguments, not as values.
WRITE_OPTIONS = ("confirm_overdraw",)


class RecordChanged(Exception):
    """Someone saved the record after the caller read it (its version moved on)."""

    def __init__(self, current: Model):
        super().__init__(f"{current} was changed since it was read")
        self.current = current


def lock(instance: ModelT) -> ModelT:
    """The record as it is now in the database, its row locked until the transaction ends."""
    return type(instance)._base_manager.select_for_update().get(pk=instance.pk)


def apply_changes(
    instance: ModelT, fields: Mapping[str, Any], *, expected_version: int | None = None
) -> tuple[ModelT, list[str]]:
    """Set `fields` on the locked, current row and validate it; returns it with the names of
    the fields whose value really changed. Only those are written afterwards, so two people
    changing different fields of one record at once both keep their change. Must run inside
    a transaction (the lock lasts until it ends)."""
    current = lock(instance)
    if expected_version is not None and current.version != expected_version:
        raise RecordChanged(current)
    changed = [name for name, value in fields.items() if getattr(current, name) != value]
    for name in changed:
        setattr(current, name, fields[name])
    current.full_clean()
    return current, changed


def allocate_code(prefix: str) -> str:
    """The next free code for a prefix, e.g. `PEL-0042`; never handed out twice."""
    with transaction.atomic():
        CodeCounter.objects.get_or_create(prefix=prefix)
        # The row lock makes concurrent allocations for one prefix wait for each other.
        counter = CodeCounter.objects.select_for_update().get(prefix=prefix)
        counter.last_number += 1
        counter.save(update_fields=["last_number"])
        return f"{prefix}-{counter.last_number:04d}"


def item_create(model: type[ItemT], *, user=None, **fields: Any) -> ItemT:
    """Validate and save a new item of a concrete kind with a fresh code, in the project
    named by `project` (see `permissions.project_for_new_item` when none is)."""
    fields["project"] = project_for_new_item(user, fields.get("project"))
    instance = model(**fields, kind=model.KIND, created_by=user)
    instance.full_clean(exclude=["code"])
    instance.code = allocate_code(model.CODE_PREFIX)
    instance.summary = instance.describe()[:200]
    instance.save()
    return instance


@transaction.atomic
def item_update(instance: ItemT, *, expected_version: int | None = None, **fields: Any) -> ItemT:
    """Change an item: only the fields that differ are written, under a row lock; with
    `expected_version`, refused (RecordChanged) if someone saved it since that version."""
    check_unlocked(instance.pk)  # a signed record: refused naming its signature
    current, changed = apply_changes(instance, fields, expected_version=expected_version)
    summary = current.describe()[:200]
    if summary != current.summary:
        current.summary = summary
        changed.append("summary")
    if changed:
        current.save(update_fields=[*changed, "updated_at"])
        notify_item_changed(current.pk, changed)
    return current


def _lock_graph() -> None:
    # Two transactions adding A->B and B->A at once would each see no cycle. On PostgreSQL a
    # transaction-scoped advisory lock serialises graph writes; SQLite already serialises writers.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(7461001)")


@transaction.atomic
def link(
    parent: Item,
    child: Item,
    *,
    role: str,
    amount: float | None = None,
    amount_unit: str = "",
) -> LineageEdge:
    """Record that `parent` went into `child`; refuses an edge that would close a cycle."""
    if parent.pk == child.pk:
        raise ValidationError({"parent": f"{parent.code} cannot be its own parent."})
    _lock_graph()
    if is_ancestor(child.pk, parent.pk):
        raise ValidationError(
            {"parent": f"{parent.code} descends from {child.code}: this link would make a cycle."}
        )
    edge, _ = LineageEdge.objects.update_or_create(
        parent=parent,
        child=child,
        defaults={"role": role, "amount": amount, "amount_unit": amount_unit},
    )
    return edge


@transaction.atomic
def set_parents(child: Item, parents: Iterable[tuple[Item, str, float | None, str]]) -> None:
    """Make `child`'s parent edges exactly these (parent, role, amount, unit); amounts add up
    when one parent is listed twice (e.g. the same ILE batch on both sides of a cell)."""
    merged: dict[int, list] = {}
    for parent, role, amount, unit in parents:
        if parent.pk in merged:
            entry = merged[parent.pk]
            if amount is not None:
                entry[2] = (entry[2] or 0) + amount
        else:
            merged[parent.pk] = [parent, role, amount, unit]
    LineageEdge.objects.filter(child=child).exclude(parent_id__in=merged).delete()
    for parent, role, amount, unit in merged.values():
        link(parent, child, role=role, amount=amount, amount_unit=unit)


STEP_FIELDS = (
    "kind",
    "temperature_c",
    "duration_min",
    "ramp_c_min",
    "atmosphere",
    "pressure_mbar",
    "rpm",
    "solvent",
    "jar_material",
    "pressure_t_cm2",
    "lamp_power_w",
    "notes",
)


@transaction.atomic
def set_steps(item: Item, steps: Iterable[Mapping[str, Any]]) -> list[ProcessStep]:
    """Replace an item's process steps with these, in order; each is validated first."""
    built = []
    errors = {}
    for position, data in enumerate(steps, start=1):
        step = ProcessStep(item=item, position=position, **{k: data.get(k) for k in STEP_FIELDS})
        for name in ("atmosphere", "solvent", "jar_material", "notes"):
            step.__dict__[name] = step.__dict__[name] or ""
        try:
            step.full_clean(exclude=["item"])
        except ValidationError as exc:
            errors[f"step {position}"] = exc.messages
        built.append(step)
    if errors:
        raise ValidationError(
            [f"{where}: {message}" for where, messages in errors.items() for message in messages]
        )
    for old in ProcessStep.objects.filter(item=item):
        old.delete()  # one by one, so each removal is audited
    for step in built:
        step.save()
    return built


def step_dicts(item: Item) -> list[dict[str, Any]]:
    """An item's steps as plain dicts (for copying a record into a new form)."""
    return [{k: getattr(s, k) for k in STEP_FIELDS} for s in item.steps.all()]


def sync_lineage(item: Item) -> None:
    """Make the item's parent edges (and its summary, which may name them) match its record."""
    set_parents(item, item.lineage_parents())
    summary = item.describe()[:200]
    if summary != item.summary:
        item.summary = summary
        item.save(update_fields=["summary", "updated_at"])


@transaction.atomic
def record_save(
    model: type[ItemT],
    *,
    instance: ItemT | None = None,
    user=None,
    fields: Mapping[str, Any],
    steps: Iterable[Mapping[str, Any]] | None = None,
    write_parts=None,
    expected_version: int | None = None,
) -> ItemT:
    """Create or update an item with its process steps and lineage, all or nothing.

    `write_parts(item)` saves the records that belong to the item (precursor uses, cell layers)
    before the lineage edges are derived from them. `expected_version`: see `item_update`.
    """
    if instance is None:
        instance = item_create(model, user=user, **fields)
    else:
        # An item stays in its project (moving one would move its measurements and files).
        fields = {k: v for k, v in fields.items() if k != "project"}
        instance = item_update(instance, expected_version=expected_version, **fields)
    if steps is not None:
        set_steps(instance, steps)
    if write_parts is not None:
        write_parts(instance)
    sync_lineage(instance)
    return instance
