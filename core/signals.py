"""`item_changed`: sent after a commit that changed an item's recorded values, so other apps
(measurements, cells) can recompute what depends on them without the core importing them.

`fields` names the changed fields, so a listener re-runs only when one of its inputs changed
(a notes-only edit must not re-run a cell's hundred measurements); None means "unknown", and
listeners then treat every input as changed."""

from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

item_changed = Signal()  # kwargs: item_id, fields (frozenset of field names, or None)


def notify_item_changed(item_id: int, fields: Iterable[str] | None = None) -> None:
    names = None if fields is None else frozenset(fields)
    transaction.on_commit(lambda: item_changed.send(sender=None, item_id=item_id, fields=names))


def touches(fields: frozenset[str] | None, inputs: Iterable[str]) -> bool:
    """Whether a change of `fields` (None: unknown) can alter a result read from `inputs`."""
    return fields is None or not fields.isdisjoint(inputs)
