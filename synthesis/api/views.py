"""REST endpoints of the synthesis records: thin viewsets over `synthesis.services` (the web
forms call the same ones) and the list filters of `synthesis.filters`."""

from __future__ import annotations

from typing import Any

import django_filters as df
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.response import Response

from core.api.base import ApiMixin, RecordViewSet, ServiceWriteMixin, service_call
from core.api.conditional import ConditionalMixin
from core.api.serializers import MadeTogether
from synthesis import defaults, filters, selectors, services
from synthesis.models import (
    CathodeCoating,
    Chemical,
    ChemicalCategory,
    ElectrodeDisk,
    IleBatch,
    LagpBatch,
    MembranePiece,
    Pellet,
    PelletSet,
    SpeMembrane,
)

from . import serializers as s

ID_REGEX = r"[0-9]+"  # records without a code (chemicals, pellet sets) go by id
ITEM_RELATED = ("created_by", "project")


class ChemicalFilter(df.FilterSet):
    name = df.CharFilter(lookup_expr="icontains", label="name contains")
    formula = df.CharFilter(lookup_expr="iexact")
    category = df.ChoiceFilter(choices=ChemicalCategory.choices)

    class Meta:
        model = Chemical
        fields = []


class ChemicalViewSet(ConditionalMixin, ApiMixin, ServiceWriteMixin, viewsets.ModelViewSet):
    """Chemicals that reagent lots are lots of (reagent lots name them by `name`)."""

    queryset = Chemical.objects.all()
    serializer_class = s.ChemicalSerializer
    filterset_class = ChemicalFilter
    lookup_value_regex = ID_REGEX
    ordering_fields = ["name", "formula"]
    ordering = ["name"]

    def save_record(self, data: dict[str, Any], instance: Chemical | None) -> Chemical:
        return services.chemical_save(instance=instance, fields=data)


class ReagentLotViewSet(RecordViewSet):
    queryset = selectors.lots_with_use().select_related("chemical", *ITEM_RELATED)
    serializer_class = s.ReagentLotSerializer
    filterset_class = filters.ReagentLotFilter
    ordering_fields = [*RecordViewSet.ordering_fields, "received_on", "lot_number"]
    table_columns = ("chemical", "formula", "category", "supplier", "grade", "lot_number")


class LagpBatchViewSet(RecordViewSet):
    """LAGP powder batches; precursors and process steps are written with the batch."""

    queryset = LagpBatch.objects.select_related(*ITEM_RELATED).prefetch_related(
        "precursors__reagent_lot", "steps"
    )
    serializer_class = s.LagpBatchSerializer
    filterset_class = filters.LagpBatchFilter
    default_steps = defaults.LAGP_BATCH_STEPS
    table_columns = ("composition", "x_al", "li_excess_pct", "yield_g", "phase_result")

    def save_record(self, data: dict[str, Any], instance: LagpBatch | None) -> LagpBatch:
        steps = self.steps_for(data, instance)
        precursors = data.pop("precursors", None)
        if precursors is None:  # not sent: a new batch has none yet, an edit keeps them
            precursors = [] if instance is None else _current_precursors(instance)
        return services.lagp_batch_save(
            instance=instance,
            user=self.request.user,
            fields=data,
            precursors=precursors,
            steps=steps,
            confirm_overdraw=data.pop("confirm_overdraw", False),
        )


def _current_precursors(batch: LagpBatch) -> list[dict[str, Any]]:
    keys = ("role", "reagent_lot", "planned_mass_g", "weighed_mass_g")
    return [{k: getattr(use, k) for k in keys} for use in batch.precursors.all()]


class PelletSetFilter(df.FilterSet):
    batch = df.CharFilter(field_name="batch__code", lookup_expr="iexact", label="powder batch")
    sintering_temperature_c = df.NumberFilter(label="sintering temperature (°C)")

    class Meta:
        model = PelletSet
        fields = []


class PelletSetViewSet(ConditionalMixin, ApiMixin, ServiceWriteMixin, viewsets.ModelViewSet):
    """Pellets pressed and sintered together. POST with `count` makes that many pellets
    (`items` lists their codes); editing the conditions applies to all of them."""

    queryset = PelletSet.objects.select_related("batch").prefetch_related("pellets")
    serializer_class = s.PelletSetSerializer
    filterset_class = PelletSetFilter
    lookup_value_regex = ID_REGEX
    ordering_fields = ["id", "sintering_temperature_c", "sintered_on"]
    ordering = ["id"]

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return s.PelletSetUpdateSerializer
        return s.PelletSetSerializer

    def save_record(self, data: dict[str, Any], instance: PelletSet | None) -> PelletSet:
        if instance is not None:
            return services.pellet_set_update(instance, fields=data)
        return services.pellet_set_create(
            user=self.request.user, batch=data.pop("batch"), count=data.pop("count"), fields=data
        )


class PieceVersionMixin:
    """`POST /api/<pieces>/<code>/new-version/`: a corrected new version of one piece (a
    pellet, disk or membrane piece), made in the same set from the same sheet. The body holds
    the values to correct, among the piece's own (the rest is copied); answered with the new
    piece, linked to the old one (`GET /api/items/<code>/verify/` shows both ways)."""

    @action(detail=True, methods=["post"], url_path="new-version")
    def new_version(self, request, *args, **kwargs) -> Response:
        old = self.get_object()
        body = self.get_serializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        with service_call(request.user):
            new = services.piece_new_version(old, user=request.user, fields=body.validated_data)
        data = self.get_serializer(self.get_queryset().get(pk=new.pk)).data
        return Response(data, status=status.HTTP_201_CREATED)


def _new_version_schema(serializer) -> dict:
    return {
        "new_version": extend_schema(
            request=serializer,
            responses={201: serializer},
            description=PieceVersionMixin.__doc__,
        )
    }


@extend_schema_view(create=extend_schema(exclude=True), **_new_version_schema(s.PelletSerializer))
class PelletViewSet(PieceVersionMixin, RecordViewSet):
    """LAGP pellets (made through pellet sets): read, record thickness/diameter/mass, delete."""

    queryset = Pellet.objects.select_related("pellet_set__batch", *ITEM_RELATED)
    serializer_class = s.PelletSerializer
    filterset_class = filters.PelletFilter
    ordering_fields = [*RecordViewSet.ordering_fields, "thickness_mm", "mass_mg"]
    table_columns = (
        "sintering_temperature_c",
        "sintering_dwell_h",
        "thickness_mm",
        "diameter_mm",
        "mass_mg",
        "relative_density",
    )
    table_ancestors = ("lagp_batch",)

    def create(self, request, *args, **kwargs) -> Response:
        # POST is here for `new-version` only: pellets are made as a set.
        raise MethodNotAllowed(
            "POST", detail="Pellets are pressed as a set: POST /api/pellet-sets/ makes them."
        )

    def save_record(self, data: dict[str, Any], instance: Pellet | None) -> Pellet:
        services.pellets_measure({instance: data})
        return instance


class SpeMembraneViewSet(RecordViewSet):
    save_service = staticmethod(services.reagent_record_save)
    queryset = SpeMembrane.objects.select_related(
        "peo_lot", "lifsi_lot", "pyr14fsi_lot", "benzophenone_lot", *ITEM_RELATED
    ).prefetch_related("steps")
    serializer_class = s.SpeMembraneSerializer
    filterset_class = filters.SpeMembraneFilter
    default_steps = defaults.SPE_MEMBRANE_STEPS
    ordering_fields = [*RecordViewSet.ordering_fields, "thickness_um"]
    table_columns = ("molar_ratio", "thickness_um", "uv_crosslinked")


class IleBatchViewSet(RecordViewSet):
    save_service = staticmethod(services.reagent_record_save)
    queryset = IleBatch.objects.select_related(
        "pyr14fsi_lot", "litfsi_lot", *ITEM_RELATED
    ).prefetch_related("steps")
    serializer_class = s.IleBatchSerializer
    filterset_class = filters.IleBatchFilter
    default_steps = defaults.ILE_BATCH_STEPS
    ordering_fields = [*RecordViewSet.ordering_fields, "water_content_ppm"]
    table_columns = ("composition", "water_content_ppm")


class CathodeCoatingViewSet(RecordViewSet):
    save_service = staticmethod(services.reagent_record_save)
    queryset = CathodeCoating.objects.select_related(
        "active_lot", "carbon_lot", "binder_lot", "solvent_lot", "foil_lot", *ITEM_RELATED
    ).prefetch_related("steps")
    serializer_class = s.CathodeCoatingSerializer
    filterset_class = filters.CathodeCoatingFilter
    default_steps = defaults.CATHODE_COATING_STEPS
    table_columns = ("mass_ratio", "solids_pct")


class PiecesCreateMixin:
    """POST with `count` makes that many pieces out of one item (disks from a coating, pieces
    from a membrane) and answers their shared fields with `items`, their codes, as a pellet
    set does. Subclasses name the set serializer, the parent field and the service."""

    set_serializer_class: type
    parent_field: str
    create_service = None

    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.set_serializer_class(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        parent, count = fields.pop(self.parent_field), fields.pop("count")
        with service_call(request.user):
            pieces = self.create_service(
                user=request.user, count=count, fields=fields, **{self.parent_field: parent}
            )
        made = self.get_queryset().filter(pk__in=[p.pk for p in pieces]).order_by("code")
        data = self.set_serializer_class(MadeTogether(made)).data
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(
        request=s.MembranePieceSetSerializer, responses={201: s.MembranePieceSetSerializer}
    ),
    **_new_version_schema(s.MembranePieceSerializer),
)
class MembranePieceViewSet(PieceVersionMixin, PiecesCreateMixin, RecordViewSet):
    """Pieces cut from SPE membrane sheets: POST with `count` cuts that many (`items` lists
    their codes); a piece goes into one cell."""

    queryset = MembranePiece.objects.select_related("membrane", *ITEM_RELATED)
    serializer_class = s.MembranePieceSerializer
    filterset_class = filters.MembranePieceFilter
    ordering_fields = [*RecordViewSet.ordering_fields, "diameter_mm"]
    table_columns = ("diameter_mm", "thickness_um")
    table_ancestors = ("spe_membrane",)
    set_serializer_class = s.MembranePieceSetSerializer
    parent_field = "membrane"
    create_service = staticmethod(services.membrane_pieces_create)


@extend_schema_view(
    create=extend_schema(
        request=s.ElectrodeDiskSetSerializer, responses={201: s.ElectrodeDiskSetSerializer}
    ),
    **_new_version_schema(s.ElectrodeDiskSerializer),
)
class ElectrodeDiskViewSet(PieceVersionMixin, PiecesCreateMixin, RecordViewSet):
    """Disks punched from a coating: POST with `count` punches that many and answers their
    shared fields with `items`, their codes (as a pellet set does); a change of loading
    recomputes the cells built on the disk."""

    queryset = ElectrodeDisk.objects.select_related("coating", *ITEM_RELATED)
    serializer_class = s.ElectrodeDiskSerializer
    filterset_class = filters.ElectrodeDiskFilter
    ordering_fields = [*RecordViewSet.ordering_fields, "active_loading_mg_cm2"]
    table_columns = ("diameter_mm", "active_loading_mg_cm2", "active_mass_mg")
    table_ancestors = ("cathode_coating",)
    set_serializer_class = s.ElectrodeDiskSetSerializer
    parent_field = "coating"
    create_service = staticmethod(services.electrode_disks_create)

    def save_record(self, data: dict[str, Any], instance: ElectrodeDisk | None) -> ElectrodeDisk:
        return services.electrode_disk_update(instance, fields=data)


ROUTES = [
    ("chemicals", ChemicalViewSet),
    ("reagent-lots", ReagentLotViewSet),
    ("lagp-batches", LagpBatchViewSet),
    ("pellet-sets", PelletSetViewSet),
    ("pellets", PelletViewSet),
    ("spe-membranes", SpeMembraneViewSet),
    ("membrane-pieces", MembranePieceViewSet),
    ("ile-batches", IleBatchViewSet),
    ("cathode-coatings", CathodeCoatingViewSet),
    ("electrode-disks", ElectrodeDiskViewSet),
]
