"""The ELN (.eln) export of an item, or of a selection, with its ancestry, the import of one
(`lims.eln`), and the BattINFO JSON-LD description of an item (`lims.battinfo`).

Composition layer: the export reads every app's records, so its endpoints live beside the
router that names every app, not in the core's item viewset."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core import permissions
from core.api.base import ApiMixin, service_call
from core.api.exceptions import Conflict
from core.api.parsers import MultiPartParser
from core.api.renderers import JSONRenderer
from core.api.schema import download_responses
from core.api.serializers import CharField, ProjectField, QuerySerializer
from core.api.serializers import Serializer as StrictSerializer
from core.downloads import attachment
from core.models import Item, ProjectExport
from lims import battinfo, eln, exports
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
        return eln_download(request, [item.specific])


class ProjectExportView(ApiMixin, GenericAPIView):
    """Every item of a project with their ancestry (an ancestor of a project you cannot see
    is left out), measurements, raw files, Parquet and results as one ELN file."""

    renderer_classes = [JSONRenderer, OctetStreamRenderer]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        operation_id="projects_export_eln",
        responses=download_responses(
            "the .eln file",
            not_found="no project with this code (or not one of yours)",
            conflict="a raw file of the export is missing or damaged in the store",
        ),
    )
    def get(self, request, code: str):
        project = permissions.visible_projects(request.user).filter(code__iexact=code.strip())
        project = project.first()
        if project is None:
            raise NotFound(f"No project with code {code!r}.")
        items = [item.specific for item in project.items.order_by("created_at", "pk")]
        if not items:
            raise Conflict(f"Project {project.code} has no items to export yet.")
        return eln_download(request, items, name=f"{project.code}-project")


class ProjectExportSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.code", read_only=True)
    status_text = serializers.CharField(source="get_status_display", read_only=True)
    url = serializers.SerializerMethodField(help_text="this export's status")
    download = serializers.SerializerMethodField(
        help_text="the file, once `status` is done (else null)"
    )

    class Meta:
        model = ProjectExport
        fields = [
            "id",
            "project",
            "status",
            "status_text",
            "requested_at",
            "started_at",
            "finished_at",
            "items",
            "size_bytes",
            "sha256",
            "error",
            "url",
            "download",
        ]
        read_only_fields = fields

    def _url(self, export, name) -> str:
        path = reverse(name, args=[export.project.code, export.pk])
        return self.context["request"].build_absolute_uri(path)

    def get_url(self, export) -> str:
        return self._url(export, "api:project-export")

    def get_download(self, export) -> str | None:
        if export.status != "done":
            return None
        return self._url(export, "api:project-export-download")


def _project(request, code: str):
    project = permissions.visible_projects(request.user).filter(code__iexact=code.strip()).first()
    if project is None:
        raise NotFound(f"No project with code {code!r}.")
    return project


class ProjectExportsView(ApiMixin, GenericAPIView):
    """A whole project's ELN file, written by a worker: `POST` asks for one (202, with the
    export's `url` to follow; while one of yours is queued or being written, that one is
    answered), `GET` lists yours, newest first. Each holds what you may see, so only you
    can read it; your next export of the project replaces it. For a few items, the direct
    `GET /api/export.eln?codes=` answers at once."""

    # Asking for an export reads: anyone who sees the project may ask, as with GET.
    renderer_classes = [JSONRenderer]  # a status, not a table
    permission_classes = [IsAuthenticated]
    serializer_class = ProjectExportSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        operation_id="projects_exports_list", responses=ProjectExportSerializer(many=True)
    )
    def get(self, request, code: str):
        found = exports.exports_of(request.user, _project(request, code))
        return Response(self.get_serializer(found, many=True).data)

    @extend_schema(
        operation_id="projects_exports_create",
        request=None,
        responses={
            202: ProjectExportSerializer,
            404: OpenApiResponse(description="no project with this code (or not one of yours)"),
            409: OpenApiResponse(description="the project has no items to export yet"),
        },
    )
    def post(self, request, code: str):
        project = _project(request, code)
        try:
            export = exports.request_project_export(
                project, user=request.user, base_url=site_base(request)
            )
        except eln.ExportRefused as exc:
            raise Conflict(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
        data = self.get_serializer(export).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


class ProjectExportStatusView(ApiMixin, GenericAPIView):
    """One of your exports of the project: `status` queued, running, done (then `download`
    gives the file, with its `sha256` and `size_bytes`) or failed (`error` says why)."""

    renderer_classes = [JSONRenderer]  # a status, not a table
    permission_classes = [IsAuthenticated]
    serializer_class = ProjectExportSerializer
    filter_backends: list = []
    pagination_class = None

    def get_export(self, code: str, export_id: int) -> ProjectExport:
        export = exports.export_of(self.request.user, _project(self.request, code), export_id)
        if export is None:
            raise NotFound(f"No export {export_id} of project {code} of yours.")
        return export

    @extend_schema(operation_id="projects_exports_retrieve")
    def get(self, request, code: str, export_id: int):
        return Response(self.get_serializer(self.get_export(code, export_id)).data)


class ProjectExportDownloadView(ProjectExportStatusView):
    """The export's .eln file, once it is done (409 before, naming its status)."""

    renderer_classes = [JSONRenderer, OctetStreamRenderer]

    @extend_schema(
        operation_id="projects_exports_download",
        responses=download_responses(
            "the .eln file",
            not_found="no such export of yours",
            conflict="the export is not ready (queued, being written or failed), or its file "
            "is no longer in the store",
        ),
    )
    def get(self, request, code: str, export_id: int):
        export = self.get_export(code, export_id)
        try:
            handle = exports.open_export(export)
        except exports.ExportUnavailable as exc:
            raise Conflict(str(exc)) from None
        return attachment(handle, export.filename)


def site_base(request) -> str:
    """The site's address, the base of the ids in the BattINFO description."""
    return request.build_absolute_uri("/")


def eln_download(request, items: list[Item], name: str | None = None):
    """The .eln file of `items` as an attachment (a damaged raw file: 409 naming it)."""
    try:
        handle = eln.export_file(
            items, base_url=site_base(request), user=request.user, name=name or ""
        )
    except storage.Damaged as exc:
        raise Conflict(str(exc)) from None
    return attachment(handle, f"{name or eln.export_name(items)}.eln")


class SelectionQuerySerializer(QuerySerializer):
    codes = CharField(
        help_text=f"item codes separated by commas, e.g. CELL-0001,PEL-0003 (at most "
        f"{eln.MAX_EXPORT_ITEMS})"
    )


class SelectionBodySerializer(StrictSerializer):
    codes = serializers.ListField(
        child=CharField(max_length=40),
        allow_empty=False,
        help_text=f'item codes, e.g. ["CELL-0001", "PEL-0003"] (at most {eln.MAX_EXPORT_ITEMS})',
    )


class SelectionExportView(ApiMixin, GenericAPIView):
    """Several items with their ancestry as one ELN file: `GET ?codes=A,B` or `POST
    {"codes": ["A", "B"]}` (for long lists). At most 200 codes (ancestors come along
    uncounted); codes that name no item are refused (400) naming each."""

    # A POST here reads (a long list of codes does not fit an address): anyone who may read
    # the items may ask, as with GET.
    permission_classes = [IsAuthenticated]
    serializer_class = SelectionBodySerializer  # what OPTIONS describes
    renderer_classes = [JSONRenderer, OctetStreamRenderer]
    filter_backends: list = []
    pagination_class = None

    def export(self, request, codes):
        try:
            items = eln.items_for_codes(codes, request.user)
        except eln.ExportRefused as exc:
            raise ValidationError({"codes": [str(exc)]}) from None
        return eln_download(request, items)

    @extend_schema(
        operation_id="export_eln",
        parameters=[SelectionQuerySerializer],
        responses={
            **download_responses(
                "the .eln file",
                not_found="(not used)",
                conflict="a raw file of the export is missing or damaged in the store",
            ),
            400: OpenApiResponse(description="no codes, too many, or codes that name no item"),
        },
    )
    def get(self, request):
        query = SelectionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return self.export(request, query.validated_data["codes"].split(","))

    @extend_schema(
        operation_id="export_eln_post",
        request=SelectionBodySerializer,
        responses={
            **download_responses(
                "the .eln file",
                not_found="(not used)",
                conflict="a raw file of the export is missing or damaged in the store",
            ),
            400: OpenApiResponse(description="no codes, too many, or codes that name no item"),
        },
    )
    def post(self, request):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.export(request, body.validated_data["codes"])


class JsonLdRenderer(JSONRenderer):
    media_type = battinfo.MEDIA_TYPE
    format = "jsonld"


class BattinfoView(ApiMixin, GenericAPIView):
    """The item with its ancestry, measurements and results as JSON-LD in the BattINFO / EMMO
    battery ontology's terms (context https://w3id.org/emmo/domain/battery/context), as an
    attachment of type application/ld+json."""

    renderer_classes = [JSONRenderer, JsonLdRenderer]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        operation_id="items_battinfo",
        responses={
            (200, battinfo.MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT, description="the JSON-LD document, as an attachment"
            ),
            404: OpenApiResponse(description="no item with this code"),
        },
    )
    def get(self, request, code: str):
        item = permissions.visible_items(request.user).filter(code__iexact=code.strip()).first()
        if item is None:
            raise NotFound(f"No item with code {code!r}.")
        body = battinfo.dumps([item.specific], site_base(request), request.user)
        return battinfo_response(body, item.code)


def battinfo_response(body: bytes, code: str) -> HttpResponse:
    response = HttpResponse(body, content_type=battinfo.MEDIA_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{code}.battinfo.jsonld"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ElnImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="the .eln file")
    project = ProjectField(
        required=False,
        help_text="code of the project the items go into; needed only when you record in "
        "more than one project",
    )


class ElnImportReportSerializer(serializers.Serializer):
    items = serializers.DictField(
        child=serializers.CharField(), help_text="code in the file -> code here"
    )
    measurements = serializers.DictField(child=serializers.CharField())
    raw_files = serializers.IntegerField()


class ElnImportView(ApiMixin, GenericAPIView):
    """Import an .eln file made by this LIMS (for users who record in a project): its items with their lineage, its
    measurements with their raw files (checked against the crate's SHA-256). An item keeps its
    code if this instance does not have it, else it gets a new one (its notes name the old);
    the answer maps old codes to new. Results are recomputed from the raw files by the worker.
    All or nothing: a crate with anything wrong is refused (400) naming what."""

    permission_classes = [IsAuthenticated]
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
        permissions.check_write_any(request.user)
        query = self.get_serializer(data=request.data)
        query.is_valid(raise_exception=True)
        upload = query.validated_data["file"]
        try:
            with service_call(request.user):
                report = eln.import_eln(
                    upload, user=request.user, project=query.validated_data.get("project")
                )
        except eln.ImportRefused as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        return Response(report.as_dict(), status=status.HTTP_201_CREATED)
