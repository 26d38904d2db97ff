"""One FilterSet per list; the HTML list pages and the REST API share them."""

from __future__ import annotations

import django_filters as df

from core.filters import ItemFilterSet

from .models import (
    CathodeCoating,
    ElectrodeDisk,
    IleBatch,
    LagpBatch,
    MembranePiece,
    Pellet,
    ReagentLot,
    SpeMembrane,
)


class ReagentLotFilter(ItemFilterSet):
    chemical = df.CharFilter(field_name="chemical__name", lookup_expr="icontains", label="chemical")
    supplier = df.CharFilter(lookup_expr="icontains")
    lot_number = df.CharFilter(lookup_expr="icontains")

    class Meta:
        model = ReagentLot
        fields = []


class LagpBatchFilter(ItemFilterSet):
    x_al = df.NumberFilter()
    phase_result = df.CharFilter(lookup_expr="icontains", label="phase contains")

    class Meta:
        model = LagpBatch
        fields = []


class PelletFilter(ItemFilterSet):
    batch = df.CharFilter(
        field_name="pellet_set__batch__code", lookup_expr="iexact", label="powder batch code"
    )
    sintering_temperature_c = df.NumberFilter(
        field_name="pellet_set__sintering_temperature_c", label="sintering temperature (°C)"
    )
    sintering_temperature_c_min = df.NumberFilter(
        field_name="pellet_set__sintering_temperature_c",
        lookup_expr="gte",
        label="sintered at ≥ (°C)",
    )
    sintering_temperature_c_max = df.NumberFilter(
        field_name="pellet_set__sintering_temperature_c",
        lookup_expr="lte",
        label="sintered at ≤ (°C)",
    )
    thickness_mm_max = df.NumberFilter(
        field_name="thickness_mm", lookup_expr="lte", label="thickness ≤ (mm)"
    )

    class Meta:
        model = Pellet
        fields = []


class SpeMembraneFilter(ItemFilterSet):
    thickness_um_max = df.NumberFilter(
        field_name="thickness_um", lookup_expr="lte", label="thickness ≤ (µm)"
    )
    molar_ratio = df.CharFilter()

    class Meta:
        model = SpeMembrane
        fields = []


class IleBatchFilter(ItemFilterSet):
    water_content_ppm_max = df.NumberFilter(
        field_name="water_content_ppm", lookup_expr="lte", label="water ≤ (ppm)"
    )

    class Meta:
        model = IleBatch
        fields = []


class CathodeCoatingFilter(ItemFilterSet):
    mass_ratio = df.CharFilter()

    class Meta:
        model = CathodeCoating
        fields = []


class MembranePieceFilter(ItemFilterSet):
    membrane = df.CharFilter(
        field_name="membrane__code", lookup_expr="iexact", label="membrane code"
    )

    class Meta:
        model = MembranePiece
        fields = []


class ElectrodeDiskFilter(ItemFilterSet):
    coating = df.CharFilter(field_name="coating__code", lookup_expr="iexact", label="coating code")
    loading_min = df.NumberFilter(
        field_name="active_loading_mg_cm2", lookup_expr="gte", label="loading ≥ (mg/cm²)"
    )
    loading_max = df.NumberFilter(
        field_name="active_loading_mg_cm2", lookup_expr="lte", label="loading ≤ (mg/cm²)"
    )

    class Meta:
        model = ElectrodeDisk
        fields = []
