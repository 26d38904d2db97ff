from __future__ import annotations

import django_filters as df

from core.filters import ItemFilterSet

from .models import Cell, CellFormat


class CellFilter(ItemFilterSet):
    notation = df.CharFilter(lookup_expr="icontains", label="notation contains")
    format = df.ChoiceFilter(choices=CellFormat.choices)
    test_temperature_c = df.NumberFilter(label="test temperature (°C)")
    sintering_temperature_c = df.NumberFilter(
        method="filter_sintering", label="pellet sintered at (°C)"
    )

    class Meta:
        model = Cell
        fields = []

    def filter_sintering(self, queryset, name, value):
        """Cells with a layer cut from a pellet sintered at this temperature."""
        if value is None:
            return queryset
        return queryset.filter(
            layers__item__pellet__pellet_set__sintering_temperature_c=value
        ).distinct()
