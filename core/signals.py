"""`item_changed`: sent after a commit that changed an item's recorded values, so other apps
(measurements) can recompute what depends on them without the core importing them."""

from django.db import transaction
from django.dispatch import Signal

item_changed = Signal()  # kwargs: item_id


def notify_item_changed(item_id: int) -> None:
    transaction.on_commit(lambda: item_changed.send(sender=None, item_id=item_id))
