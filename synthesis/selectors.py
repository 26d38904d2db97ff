"""Reads of the synthesis records that lists and pickers share."""

from __future__ import annotations

from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce

from .models import ReagentLot


def lots_with_use() -> QuerySet[ReagentLot]:
    """Reagent lots with `used` (what records took, in the lot's unit) in the same query, so a
    list or a picker shows what each lot has left without a query per lot."""
    return ReagentLot.objects.annotate(used=Coalesce(Sum("uses__amount"), 0.0))


def lot_uses(lot: ReagentLot):
    """What each record took from a lot, newest record first."""
    return lot.uses.select_related("item").order_by("-item_id", "slot")
