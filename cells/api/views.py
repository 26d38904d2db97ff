"""REST endpoint of cell builds: a thin viewset over `cells.services.cell_save` (the web form
calls the same one) and the cell list's filters."""

from __future__ import annotations

from typing import Any

import django_filters as df

from cells import filters, services
from cells.models import Cell, CellFormat
from core.api.base import RecordViewSet

from . import serializers as s


class CellApiFilter(filters.CellFilter):
    """The cell list's filters, with `format` (coin, pouch...) renamed `cell_format`: in the API
    `?format=` chooses the response format (json, csv)."""

    cell_format = df.ChoiceFilter(field_name="format", choices=CellFormat.choices)

    class Meta(filters.CellFilter.Meta):
        pass


CellApiFilter.base_filters.pop("format")


class CellViewSet(RecordViewSet):
    """Cell builds. The stack is written whole (`layers`, negative electrode first); notation,
    active mass and C-rate currents are derived from it."""

    queryset = Cell.objects.select_related("operator", "created_by", "project").prefetch_related(
        "layers__item"
    )
    serializer_class = s.CellSerializer
    filterset_class = CellApiFilter
    ordering_fields = [
        *RecordViewSet.ordering_fields,
        "assembled_on",
        "test_temperature_c",
        "active_mass_mg",
    ]
    table_columns = (
        "notation",
        "format",
        "active_area_cm2",
        "active_mass_mg",
        "assembled_on",
        "operator",
        "test_temperature_c",
    )
    table_ancestors = (
        "pellet",
        "lagp_batch",
        "membrane_piece",
        "spe_membrane",
        "ile_batch",
        "electrode_disk",
        "cathode_coating",
    )

    def save_record(self, data: dict[str, Any], instance: Cell | None) -> Cell:
        layers = data.pop("layers", None)
        if layers is None:  # a PATCH without the stack keeps it
            layers = _current_layers(instance)
        if instance is None:
            data.setdefault("operator", self.request.user)  # as the form pre-fills
        return services.cell_save(
            instance=instance, user=self.request.user, fields=data, layers=layers
        )


def _current_layers(cell: Cell) -> list[dict[str, Any]]:
    keys = ("side", "item", "amount_ul", "label")
    return [{k: getattr(layer, k) for k in keys} for layer in cell.layers.all()]


ROUTES = [("cells", CellViewSet)]
