"""REST endpoints of measurements: create with raw files (multipart), poll the state, upload
more files, re-process, read the parsed time series and the per-cycle table as JSON, CSV or
Parquet. Thin: every write is a `measurements.services` call, as from the web pages."""

from __future__ import annotations

import contextlib

import django_filters as df
import polars as pl
from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from core import permissions
from core.api.base import ApiMixin, service_call
from core.api.conditional import ConditionalMixin
from core.api.exceptions import Conflict, RequestTooLarge
from core.api.parsers import FormParser, JSONParser, MultiPartParser
from core.api.renderers import JSONRenderer
from core.api.schema import ROWS_PAGE, download_responses
from core.api.serializers import QuerySerializer
from core.downloads import attachment
from core.models import Item
from measurements import filters, selectors, services, storage
from measurements.models import (
    CycleRow,
    Measurement,
    RawFile,
    Result,
    ResultKind,
    TemperatureSeries,
)
from measurements.plot_payload import PlotInputError

from . import serializers as s
from . import tables  # noqa: F401  (registers result columns for lineage tables)
from .data import DataQuerySerializer, data_response
from .renderers import FRAME_RENDERERS, FrameBDFRenderer, OctetStreamRenderer
from .serializers import TemperatureSeriesSerializer

TABLE_RESPONSES = {
    (200, "application/json"): OpenApiTypes.OBJECT,
    (200, "text/csv"): OpenApiTypes.STR,
    (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
    404: OpenApiResponse(description="not parsed yet"),
}
DATA_RESPONSES = {
    (200, "application/json"): OpenApiResponse(
        ROWS_PAGE, description="the series, or a page of it; NaN and infinity are null"
    ),
    (200, "text/csv"): OpenApiResponse(
        OpenApiTypes.STR,
        description="the series, streamed; `?format=bdf`: cycling data as Battery Data Format "
        "CSV (`Test Time / s`, `Voltage / V`, `Current / A`, `Cycle Count / 1`, ...)",
    ),
    (200, "application/vnd.apache.parquet"): OpenApiResponse(
        OpenApiTypes.BINARY, description="the series as stored (an attachment), streamed"
    ),
    400: OpenApiResponse(
        description="a parameter cannot be used (named in the answer), or the JSON answer "
        "would carry more than `LIMS_DATA_JSON_MAX_ROWS` rows: `detail` names the `every` "
        "that fits, paging and the streamed formats"
    ),
    404: OpenApiResponse(description="not parsed yet"),
}
CYCLES = OpenApiParameter(
    "cycles",
    str,
    description="cycling: the cycles whose voltage and dQ/dV curves to include, separated by "
    "commas (at most 12), e.g. `1,50,200`; default: the first, 10th, 100th and last",
)


@contextlib.contextmanager
def too_large_is_413():
    """A file over the upload limit (found while it arrived, when the request did not say
    its length) answers 413 naming the file and the limit."""
    try:
        yield
    except storage.TooLarge as exc:
        raise RequestTooLarge(str(exc)) from None


class MeasurementViewSet(
    ConditionalMixin,
    ApiMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Measurements on pellets, membranes, cells. Create with JSON (then upload files) or as
    multipart with `files`; processing is queued and its state is in `status`/`progress`."""

    queryset = Measurement.objects.select_related("item", "carried_from").prefetch_related(
        "files__raw_file", "results__item", "results__measurement"
    )
    serializer_class = s.MeasurementSerializer
    filterset_class = filters.MeasurementFilter
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    lookup_field = "code"
    lookup_value_regex = r"[A-Za-z0-9-]+"
    ordering_fields = ["code", "created_at", "temperature_c"]
    ordering = ["-created_at"]

    def get_queryset(self):
        # The series and the per-cycle table read the measurement (and its files) only: its
        # results need not be fetched.
        if self.action == "data":
            return Measurement.objects.prefetch_related("files")
        if self.action == "cycles":
            return Measurement.objects.all()
        return super().get_queryset()

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return s.MeasurementUpdateSerializer
        if self.action == "create":
            return s.MeasurementCreateSerializer
        return super().get_serializer_class()

    @extend_schema(
        request={
            "multipart/form-data": s.MeasurementCreateSerializer,
            "application/json": s.MeasurementSerializer,
        },
        responses={201: s.MeasurementSerializer},
    )
    def create(self, request, *args, **kwargs):
        """A new measurement; its raw files come as `files` in a multipart body (or later, to
        `.../files/`). The answer shows the stored files; processing is queued."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        item, uploads = data.pop("item"), data.pop("files", [])
        with service_call(request.user), too_large_is_413():
            measurement = services.measurement_create(
                user=request.user, item=item, fields=data, uploads=uploads
            )
        made = self.get_queryset().get(pk=measurement.pk)
        body = s.MeasurementSerializer(made, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.MeasureAgainSerializer, responses={201: s.MeasurementSerializer(many=True)}
    )
    @action(detail=False, methods=["post"], url_path="measure-again")
    def measure_again(self, request):
        """Measure the new version of a record (`item`) again from its earlier version's raw
        files: each earlier measurement not taken yet is copied (settings as typed, the same
        stored raw files, `carried_from` naming it) and computed with the new version's
        values, e.g. a corrected pellet thickness. 400 when `item` is no new version or has
        taken them all."""
        body = s.MeasureAgainSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        with service_call(request.user):
            made = services.measurements_measure_again(
                body.validated_data["item"].specific, user=request.user
            )
        rows = self.get_queryset().filter(pk__in=[m.pk for m in made]).order_by("pk")
        data = s.MeasurementSerializer(rows, many=True, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    def get_object(self):
        self.kwargs["code"] = self.kwargs["code"].upper()
        return super().get_object()

    def perform_update(self, serializer):
        with service_call(self.request.user):
            services.measurement_update(serializer.instance, fields=dict(serializer.validated_data))
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    def perform_destroy(self, instance):
        with service_call(self.request.user):
            services.measurement_delete(instance)

    @extend_schema(responses=s.StatusSerializer)
    @action(detail=True, methods=["get"])
    def status(self, request, code=None):
        """The processing state, cheap to poll."""
        return Response(s.StatusSerializer(self.get_object()).data)

    @extend_schema(
        request={"multipart/form-data": s.UploadSerializer}, responses={202: s.StatusSerializer}
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def files(self, request, code=None):
        """Attach one or more raw files (`files`); the measurement is processed again."""
        measurement = self.get_object()
        upload = s.UploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        with service_call(request.user), too_large_is_413():
            services.measurement_add_files(
                measurement, upload.validated_data["files"], user=request.user
            )
        measurement.refresh_from_db()
        return Response(s.StatusSerializer(measurement).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: s.StatusSerializer})
    @action(detail=True, methods=["post"])
    def reprocess(self, request, code=None):
        """Queue a fresh run of parsing and computation."""
        measurement = self.get_object()
        with service_call(request.user):
            services.measurement_reprocess(measurement)
        return Response(s.StatusSerializer(measurement).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[DataQuerySerializer], responses=DATA_RESPONSES)
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[*FRAME_RENDERERS, FrameBDFRenderer],
        filter_backends=[],
        pagination_class=None,
    )
    def data(self, request, code=None):
        """The parsed time series (or spectrum) in canonical columns with units in their names,
        at any size: Parquet (the stored object itself when it is one file) and CSV stream;
        JSON carries at most `LIMS_DATA_JSON_MAX_ROWS` rows (default 200000) per answer: page
        with `offset`/`limit` and follow `next`, or thin with `every`. Above it, a request
        without `limit` is refused (400) naming the `every` that fits."""
        query = DataQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return data_response(request, self.get_object(), query.validated_data)

    @extend_schema(
        parameters=[CYCLES],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="the page's plot payload (README, “Plots”): `type` (the "
                "technique), `version`, and per technique the series each plot draws, thinned "
                "on the server",
            ),
            400: OpenApiResponse(description="`cycles` cannot be used (named in the answer)"),
            404: OpenApiResponse(description="nothing to plot: not processed, or failed"),
        },
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def plot(self, request, code=None):
        """What the measurement page plots, as JSON: the same payload the page draws."""
        measurement = self.get_object()
        try:
            payload = selectors.plot_data(measurement, request.query_params.get("cycles"))
        except PlotInputError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        if payload is None:
            raise Http404("Nothing to plot: the measurement is not processed, or it failed.")
        return Response(payload)

    @extend_schema(responses=TABLE_RESPONSES)
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=FRAME_RENDERERS,
        filter_backends=[],
        pagination_class=None,
    )
    def cycles(self, request, code=None):
        """The per-cycle table of a cycling measurement."""
        QuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        measurement = self.get_object()
        fields = [
            f.name for f in CycleRow._meta.concrete_fields if f.name not in ("id", "measurement")
        ]
        rows = list(CycleRow.objects.filter(measurement=measurement).values_list(*fields))
        frame = (
            pl.DataFrame(rows, schema=fields, orient="row", infer_schema_length=None)
            if rows
            else pl.DataFrame(schema={name: pl.Float64 for name in fields})
        )
        return Response(frame)


class ResultFilter(df.FilterSet):
    kind = df.ChoiceFilter(choices=ResultKind.choices)
    item = df.CharFilter(field_name="item__code", lookup_expr="iexact")
    measurement = df.CharFilter(field_name="measurement__code", lookup_expr="iexact")
    technique = df.CharFilter(field_name="measurement__technique")

    class Meta:
        model = Result
        fields = []


class ResultViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Computed results, each with the inputs and algorithm version it was computed from."""

    queryset = Result.objects.select_related("item", "measurement")
    serializer_class = s.ResultSerializer
    filterset_class = ResultFilter
    ordering_fields = ["computed_at", "kind"]
    ordering = ["id"]


class RawFileViewSet(ApiMixin, viewsets.GenericViewSet):
    """Raw instrument files, byte for byte, by SHA-256 (a measurement's `files[].download`):
    the same file as the web page's link, but with a token instead of a browser login."""

    queryset = RawFile.objects.all()
    lookup_field = "sha256"
    lookup_value_regex = "[0-9a-fA-F]{64}"
    renderer_classes = [JSONRenderer, OctetStreamRenderer]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        responses=download_responses(
            "the file as uploaded",
            not_found="no raw file with this SHA-256",
            conflict="the stored bytes are missing or no longer hash to this SHA-256; "
            "`detail` says so: upload the original file again to repair the store",
        )
    )
    def retrieve(self, request, sha256=None):
        try:
            raw, handle = selectors.raw_file_for_download(sha256, request.user)
        except storage.Damaged as exc:
            raise Conflict(str(exc)) from None
        return attachment(handle, raw.original_name)


class TemperatureSeriesView(ApiMixin, GenericAPIView):
    """An item's temperature series: its state (poll it like a measurement's), every EIS
    measurement as a point (included or not, and why), and the Arrhenius/VFT fits with their
    warnings. PATCH includes or excludes points whatever the outlier check says, or hands
    them back to it with "auto"; the series is then computed again (202, state queued)."""

    serializer_class = TemperatureSeriesSerializer
    filter_backends: list = []
    pagination_class = None

    def _item(self, code: str) -> Item:
        item = permissions.visible_items(self.request.user).filter(code__iexact=code).first()
        if item is None:
            raise NotFound(f"No item with code {code!r}.")
        return item

    def _series(self, item: Item) -> TemperatureSeries:
        series = TemperatureSeries.objects.filter(item=item).select_related("item").first()
        if series is None:
            raise NotFound(
                f"{item.code} has no temperature series yet: it is computed once an EIS "
                "measurement of it has been processed."
            )
        return series

    @extend_schema(responses={200: TemperatureSeriesSerializer})
    def get(self, request, code: str):
        series = self._series(self._item(code))
        return Response(TemperatureSeriesSerializer(series).data)

    @extend_schema(
        request=s.SeriesPointsUpdateSerializer, responses={202: TemperatureSeriesSerializer}
    )
    def patch(self, request, code: str):
        item = self._item(code)
        permissions.check_write(request.user, item)
        body = s.SeriesPointsUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_call(request.user):
            services.temperature_series_set_points(
                item, body.validated_data["points"], user=request.user
            )
        series = self._series(item)
        return Response(TemperatureSeriesSerializer(series).data, status=status.HTTP_202_ACCEPTED)


# Paths outside the router, added to the API's URLs before it (see lims.api.urls).
URLS = [
    path(
        "items/<str:code>/temperature-series/",
        TemperatureSeriesView.as_view(),
        name="item-temperature-series",
    )
]

ROUTES = [
    ("measurements", MeasurementViewSet),
    ("results", ResultViewSet),
    ("raw-files", RawFileViewSet),
]
