from __future__ import annotations

import django_filters as df

from core.models import Item
from core.selectors import lineage_ids_sql

from .models import Measurement, Status, Technique


class MeasurementFilter(df.FilterSet):
    q = df.CharFilter(field_name="code", lookup_expr="icontains", label="code contains")
    item = df.CharFilter(field_name="item__code", lookup_expr="iexact", label="sample code")
    technique = df.ChoiceFilter(choices=Technique.choices)
    status = df.ChoiceFilter(choices=Status.choices)
    ancestor = df.CharFilter(method="filter_ancestor", label="sample descends from (code)")

    class Meta:
        model = Measurement
        fields = []

    def filter_ancestor(self, queryset, name, value):
        item = Item.objects.filter(code__iexact=value.strip()).first() if value else None
        if not value:
            return queryset
        if item is None:
            return queryset.none()
        return queryset.filter(item_id__in=lineage_ids_sql(item.pk, "descendants"))
