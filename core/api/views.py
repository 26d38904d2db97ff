"""Generic endpoints across all kinds: the item registry, lineage, lineage tables, tokens."""

from __future__ import annotations

import django_filters as df
from django.contrib.auth import authenticate
from django.http import HttpRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core import selectors, signatures
from core.audit import acting_as
from core.filters import ItemFilterSet
from core.models import Item, ItemKind
from core.permissions import can_sign

from . import lineage_table, tokens
from .base import ApiMixin, CodeLookupMixin, record_viewsets
from .parsers import FormParser, JSONParser, MultiPartParser
from .renderers import JSONRenderer
from .schema import ROWS_PAGE, AutoSchema
from .serializers import (
    ItemSerializer,
    LineageQuerySerializer,
    LineageRowSerializer,
    SignRequestSerializer,
    SupersedeRequestSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    VerificationSerializer,
)


class ItemFilter(ItemFilterSet):
    kind = df.ChoiceFilter(choices=ItemKind.choices)

    class Meta:
        model = Item
        fields = []


def _kind_serializers() -> dict[str, type]:
    # Called while the schema is generated, when every app has registered its viewsets.
    return {kind: vs.serializer_class for kind, vs in sorted(record_viewsets().items())}


class ItemViewSet(CodeLookupMixin, ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Every tracked item, whatever its kind: find codes (`?q=PEL`, `?kind=pellet`,
    `?ancestor=LAGP-0001`), read one with all its fields, walk its lineage."""

    queryset = Item.objects.select_related("created_by", "project")
    serializer_class = ItemSerializer
    filterset_class = ItemFilter
    ordering_fields = ["code", "kind", "created_at", "updated_at"]
    ordering = ["code"]

    @extend_schema(
        responses=PolymorphicProxySerializer(
            component_name="AnyItem",
            serializers=_kind_serializers,
            resource_type_field_name="kind",
        )
    )
    def retrieve(self, request: HttpRequest, *args, **kwargs) -> Response:
        """One item with the fields of its kind (the same body as its kind's endpoint)."""
        item = self.get_object()
        viewset = record_viewsets().get(item.kind)
        if viewset is None:  # a kind whose app has no API yet
            return Response(ItemSerializer(item, context=self.get_serializer_context()).data)
        record = viewset.queryset.get(pk=item.pk)
        return Response(
            viewset.serializer_class(record, context=self.get_serializer_context()).data
        )

    @extend_schema(parameters=[LineageQuerySerializer], responses=LineageRowSerializer(many=True))
    @action(detail=True, filter_backends=[], pagination_class=None)
    def lineage(self, request: HttpRequest, *args, **kwargs) -> Response:
        """What the item was made from (`direction=ancestors`) or went into (`descendants`),
        at any depth or up to `depth` edges, nearest first; one database query."""
        item = self.get_object()
        query = LineageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.lineage(
            item.pk, query.validated_data["direction"], query.validated_data.get("depth")
        )
        # Items of projects the user cannot see: code and kind only (the summary is blank).
        rows = selectors.redacted(rows, request.user)
        return Response(LineageRowSerializer(rows, many=True).data)

    @extend_schema(
        request=SignRequestSerializer,
        responses={
            201: VerificationSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='wrong password, unknown meaning, work still processing: {"field": '
                "[message]}",
            ),
            403: OpenApiResponse(OpenApiTypes.OBJECT, description="you may not sign this record"),
            429: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="the account is locked after repeated wrong passwords (the login "
                "lockout): `detail` says until when",
            ),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def sign(self, request: HttpRequest, *args, **kwargs) -> Response:
        """Sign a finished record with your password (re-entered every time) and a meaning
        (reviewed, approved, ...): stores the SHA-256 of its canonical JSON and locks it, with
        what it covers (a batch's pellets; every item's measurements, raw files and results).
        Corrections are then new versions (`POST /api/items/<new>/supersede/`)."""
        item = self.get_object()
        # Who may sign is answered before the body is read: a viewer gets 403, not a 400
        # about a password they could never use here.
        if not can_sign(request.user, item):
            raise PermissionDenied(
                f"You may not sign {item.code}: a manager of its project "
                f"({item.project.code}) signs it."
            )
        body = SignRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            with acting_as(request.user):
                signatures.sign(
                    item,
                    user=request.user,
                    password=data["password"],
                    meaning=data["meaning"],
                    comment=data.get("comment", ""),
                    request=request._request,
                )
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from None
        report = signatures.report(item, audit=False)
        return Response(VerificationSerializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=VerificationSerializer)
    # JSON only: a nested report, not a table.
    @action(detail=True, filter_backends=[], pagination_class=None, renderer_classes=[JSONRenderer])
    def verify(self, request: HttpRequest, *args, **kwargs) -> Response:
        """The record's signatures, each checked now: `intact`, or the changes (path, value
        when signed -> value now) since it was signed. A failed check is audited."""
        item = self.get_object()
        with acting_as(request.user):
            report = signatures.report(item)
        return Response(VerificationSerializer(report).data)

    @extend_schema(request=SupersedeRequestSerializer, responses={201: VerificationSerializer})
    @action(detail=True, methods=["post"])
    def supersede(self, request: HttpRequest, *args, **kwargs) -> Response:
        """Mark this record (made as a corrected copy) as the new version of a locked one;
        both pages then link to each other."""
        item = self.get_object()
        body = SupersedeRequestSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        with acting_as(request.user):
            signatures.supersede(item, body.validated_data["supersedes"], user=request.user)
        report = signatures.report(item, audit=False)
        return Response(VerificationSerializer(report).data, status=status.HTTP_201_CREATED)


_FILTER_TYPES = {
    df.NumberFilter: OpenApiTypes.NUMBER,
    df.BooleanFilter: OpenApiTypes.BOOL,
}


def _filter_parameter(prefix: str, name: str, filter_, description: str) -> OpenApiParameter:
    kind = next((t for cls, t in _FILTER_TYPES.items() if isinstance(filter_, cls)), None)
    choices = getattr(filter_, "extra", {}).get("choices")
    return OpenApiParameter(
        f"{prefix}{name}",
        kind or OpenApiTypes.STR,
        description=f"{description}: {filter_.label or name}",
        enum=[value for value, _label in choices] if choices else None,
    )


class LineageTableSchema(AutoSchema):
    """The table's filters come from the registered kinds, known only once apps registered."""

    def get_override_parameters(self):
        viewsets = record_viewsets()
        params = [
            OpenApiParameter(
                "root_kind",
                OpenApiTypes.STR,
                enum=sorted(viewsets),
                description="the kind of item each row is (default: cell)",
            )
        ]
        params.append(
            OpenApiParameter(
                "step",
                OpenApiTypes.STR,
                many=True,
                description="adds a process step's parameter as a column `step_<kind>_<field>`, "
                "from the row's item or its nearest listed ancestor with such a step, e.g. "
                "`uv_crosslinking.duration_min` (UV time of a cell's membrane); repeat or "
                f"separate by commas; fields: {', '.join(lineage_table.STEP_FIELDS)}",
            )
        )
        described: dict[str, list[str]] = {}
        for kind, parameters in lineage_table.TABLE_PARAMETERS.items():
            for name, parameter in parameters.items():
                described.setdefault(name, [parameter.description]).append(kind)
        params.extend(
            OpenApiParameter(
                name,
                OpenApiTypes.STR,
                many=True,
                description=f"{text} (rows of: {', '.join(kinds)}); repeat or separate by commas",
            )
            for name, (text, *kinds) in sorted(described.items())
        )
        root_filters: dict[str, OpenApiParameter] = {}
        for kind, viewset in sorted(viewsets.items()):
            for name, filter_ in viewset.filterset_class.base_filters.items():
                root_filters.setdefault(
                    name,
                    _filter_parameter(
                        "", name, filter_, "rows (refused when the rows' kind has no such filter)"
                    ),
                )
                params.append(
                    _filter_parameter(
                        f"{kind}{lineage_table.ANCESTOR_SEPARATOR}",
                        name,
                        filter_,
                        f"rows descending from a {ItemKind(kind).label} with",
                    )
                )
        return [*params, *root_filters.values()]


class LineageTableView(ApiMixin, GenericAPIView):
    """Rows of one kind (cells by default) with the columns of their ancestors: e.g.
    `?pellet__sintering_temperature_c=900` gives every cell descending from a pellet sintered
    at 900 °C with the pellet's, the powder batch's, the membrane's... data. `?format=csv` for
    a CSV table; filters without a prefix are the row kind's list filters."""

    schema = LineageTableSchema()
    filter_backends: list = []  # the filters are applied by lineage_table, per kind

    @extend_schema(responses={200: OpenApiResponse(response=ROWS_PAGE)})
    def get(self, request: HttpRequest) -> Response:
        viewsets = record_viewsets()
        kind = request.query_params.get("root_kind") or ItemKind.CELL
        if kind not in viewsets:
            raise ValidationError({"root_kind": [f"Choose one of: {', '.join(sorted(viewsets))}."]})
        options = lineage_table.table_options(kind, request.query_params)
        roots = lineage_table.filter_roots(kind, request.query_params, viewsets, request)
        page = self.paginate_queryset(roots)
        return Response(
            {
                "count": self.paginator.page.paginator.count,
                "next": self.paginator.get_next_link(),
                "previous": self.paginator.get_previous_link(),
                "columns": lineage_table.columns(kind, viewsets, options),
                "results": lineage_table.rows(kind, page, viewsets, request, options),
            }
        )


class TokenView(ApiMixin, APIView):
    """Your API token. Any logged-in account may make one (read-only accounts read with it)."""

    permission_classes = [IsAuthenticated]
    filter_backends: list = []
    # Form bodies too: `curl -X POST -d password=...` and the test client's empty form post.
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            201: TokenSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='a field is wrong, or the password is missing: {"field": [message]}',
            ),
            403: OpenApiResponse(
                OpenApiTypes.OBJECT, description='the password is wrong: {"detail": message}'
            ),
            429: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='the account is locked after wrong passwords: {"detail": message}',
            ),
        },
    )
    def post(self, request: HttpRequest) -> Response:
        """Create a token, or replace the current one (which stops working at once). A request
        authenticated by a token must also send the password: a stolen token cannot renew
        itself."""
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        days = body.validated_data.get("expires_in_days")
        if error := tokens.lifetime_error(days):
            raise ValidationError({"expires_in_days": [error]})
        if isinstance(request.auth, Token):
            password = body.validated_data.get("password")
            if not password:
                raise ValidationError(
                    {
                        "password": [
                            "Required when the request is authenticated by a token: a token "
                            "cannot make its own replacement without your password."
                        ]
                    }
                )
            # Through authenticate(), so wrong passwords count towards the login lockout.
            checked = authenticate(
                request._request, username=request.user.get_username(), password=password
            )
            if checked is None or checked.pk != request.user.pk:
                raise PermissionDenied("Wrong password: the token was not replaced.")
        with acting_as(request.user):
            token = tokens.token_rotate(request.user, days)
        data = {
            "token": token.key,
            "username": request.user.get_username(),
            "created": token.created,
            "expires": token.expiry.expires_at,
        }
        return Response(TokenSerializer(data).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: HttpRequest) -> Response:
        """Revoke your token."""
        with acting_as(request.user):
            tokens.token_revoke(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UnknownEndpoint(ApiMixin, APIView):
    """Any other URL under /api/: a JSON 404 for scripts, rather than the site's HTML page."""

    permission_classes = [AllowAny]
    schema = None  # not an endpoint

    def initial(self, request: HttpRequest, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        raise NotFound("No such API endpoint; /api/ lists them.")
