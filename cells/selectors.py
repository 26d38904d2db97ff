from __future__ import annotations

from core import permissions
from core.models import Item

from . import stack


def layer_candidate_codes(user=None, limit: int = 500) -> list[str]:
    """Codes offered while typing a stack: the newest items that can be a layer (of `user`'s
    projects)."""
    kinds = stack.ELECTRODE_KINDS | stack.ELECTROLYTE_KINDS
    items = Item.objects.all() if user is None else permissions.visible_items(user)
    return list(items.filter(kind__in=kinds).order_by("-id").values_list("code", flat=True)[:limit])
