"""The ELN (.eln) export of an item with its ancestry, and the import of one (`lims.eln`).

Composition layer: the export reads every app's records, so its endpoints live beside the
router that names every app, not in the core's item viewset."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from core import permissions
from core.api.base import ApiMixin, service_call
from core.api.exceptions import Conflict
from core.api.parsers import MultiPartParser
from core.api.renderers import JSONRenderer
from core.api.schema import download_responses
from core.downloads import attachment
from lims import eln
from measurements import storage
from measurements.api.renderers import OctetStreamRenderer


class ElnExportView(ApiMixin, GenericAPIView):
    """The item with every ancestor as an ELN file (`.eln`, the ELN consortium's zipped
    RO-Crate 1.1 that eLabFTW, Kadi4Mat and others read): records, lineage, measurements with
    their raw files and parsed Parquet (each with its SHA-256), and results."""

    renderer_classes = [JSONRenderer, OctetStreamRenderer]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        operation_id="items_export_eln",
        responses=download_responses(
            "the .eln file",
            not_found="no item with this code",
            conflict="a raw file of the export is missing or damaged in the store; `detail` "
            "names it (an export never ships unverified bytes)",
        ),
    )
    def get(self, request, code: str):
        item = permissions.visible_items(request.user).filter(code__iexact=code.strip()).first()
        if item is None:
            raise NotFound(f"No item with code {code!r}.")
        try:
            handle = eln.export_file(item.specific, user=request.user)
        except storage.Damaged as exc:
            raise Conflict(str(exc)) from None
        return attachment(handle, f"{item.code}.eln")


class ElnImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="the .eln file")


class ElnImportReportSerializer(serializers.Serializer):
    items = serializers.DictField(
        child=serializers.CharField(), help_text="code in the file -> code here"
    )
    measurements = serializers.DictField(child=serializers.CharField())
    raw_files = serializers.IntegerField()


class ElnImportView(ApiMixin, GenericAPIView):
    """Import an .eln file made by this LIMS (staff only): its items with their lineage, its
    measurements with their raw files (checked against the crate's SHA-256). An item keeps its
    code if this instance does not have it, else it gets a new one (its notes name the old);
    the answer maps old codes to new. Results are recomputed from the raw files by the worker.
    All or nothing: a crate with anything wrong is refused (400) naming what."""

    permission_classes = [IsAdminUser]
    parser_classes = [MultiPartParser]
    serializer_class = ElnImportSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        operation_id="import_eln",
        request={"multipart/form-data": ElnImportSerializer},
        responses={
            201: ElnImportReportSerializer,
            400: OpenApiResponse(description="no file, or a crate that cannot be imported"),
        },
    )
    def post(self, request):
        query = self.get_serializer(data=request.data)
        query.is_valid(raise_exception=True)
        upload = query.validated_data["file"]
        try:
            with service_call(request.user):
                report = eln.import_eln(upload, user=request.user)
        except eln.ImportRefused as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        return Response(report.as_dict(), status=status.HTTP_201_CREATED)
