from __future__ import annotations

from core.models import Item

from . import stack


def layer_candidate_codes(limit: int = 500) -> list[str]:
    """Codes offered while typing a stack: the newest items that can be a layer."""
    kinds = stack.ELECTRODE_KINDS | stack.ELECTROLYTE_KINDS
    return list(
        Item.objects.filter(kind__in=kinds).order_by("-id").values_list("code", flat=True)[:limit]
    )
