"""JSON shape of a cell build: its stack as an ordered list of layers that name items by code."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cells.models import Cell, CellLayer
from core.api.serializers import (
    ItemCodeField,
    ItemSerializer,
    ModelSerializer,
    NaturalKeyField,
    item_fields,
)
from core.models import Item

# The longest stack a cell has (electrodes, interlayers, separators, drops of electrolyte);
# positions are small integers.
MAX_LAYERS = 30


class LayerSerializer(ModelSerializer):
    item = ItemCodeField(queryset=Item.objects.all(), help_text="code of the item in this layer")

    class Meta:
        model = CellLayer
        fields = ["side", "item", "amount_ul", "label"]


class CellSerializer(ItemSerializer):
    layers = LayerSerializer(
        many=True,
        max_length=MAX_LAYERS,
        help_text="the stack from the negative to the positive electrode",
    )
    operator = NaturalKeyField(
        what="user",
        slug_field="username",
        queryset=get_user_model().objects.all(),
        required=False,
        allow_null=True,
        help_text="username; left out on create: you",
    )
    c_rate_currents_ma = serializers.SerializerMethodField(
        help_text="current (mA) per C-rate for the cathode's active mass (1C = 200 mA/g)"
    )

    class Meta(ItemSerializer.Meta):
        model = Cell
        fields = item_fields(
            "format",
            "notation",
            "layers",
            "active_area_cm2",
            "active_mass_mg",
            "c_rate_currents_ma",
            "assembled_on",
            "operator",
            "dew_point_c",
            "test_temperature_c",
        )

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "number"}})
    def get_c_rate_currents_ma(self, cell: Cell) -> dict[str, float]:
        return {f"{rate:g}C": current for rate, current in cell.c_rate_currents().items()}
