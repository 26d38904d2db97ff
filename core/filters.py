from __future__ import annotations

import django_filters as df
from django.db.models import QuerySet

from .models import Item
from .selectors import lineage_ids_sql


class ItemFilterSet(df.FilterSet):
    """Filters every item list has: search by code, and 'descends from' / 'went into'."""

    q = df.CharFilter(field_name="code", lookup_expr="icontains", label="code contains")
    project = df.CharFilter(field_name="project__code", lookup_expr="iexact", label="project")
    ancestor = df.CharFilter(method="filter_ancestor", label="descends from (code)")
    descendant = df.CharFilter(method="filter_descendant", label="went into (code)")

    def _related(self, queryset: QuerySet, code: str, direction: str) -> QuerySet:
        item = Item.objects.filter(code__iexact=code.strip()).first()
        if item is None:
            return queryset.none()
        return queryset.filter(pk__in=lineage_ids_sql(item.pk, direction))

    def filter_ancestor(self, queryset, name, value):
        return self._related(queryset, value, "descendants") if value else queryset

    def filter_descendant(self, queryset, name, value):
        return self._related(queryset, value, "ancestors") if value else queryset
