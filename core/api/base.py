"""The base every API view uses: auth rule, error format, JSON-only bodies, pagination, and a
record viewset that writes through the app's services (the web forms call the same ones)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.models import Model
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import viewsets
from rest_framework.exceptions import NotAcceptable, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.settings import api_settings

from core import permissions, signatures
from core.audit import acting_as
from core.services import WRITE_OPTIONS, record_save

from .conditional import ConditionalMixin
from .exceptions import exception_handler
from .parsers import JSONParser
from .permissions import ProjectRolePermission
from .renderers import CSVRenderer, JSONRenderer
from .schema import AutoSchema

# Item codes are letters, digits and dashes (`PEL-0042`); anything else is a 404 at the router.
CODE_REGEX = r"[A-Za-z0-9-]+"


class Pagination(PageNumberPagination):
    """50 rows a page by default; scripts may ask for up to 1000 with `?page_size=`."""

    page_size = api_settings.PAGE_SIZE or 50
    page_size_query_param = "page_size"
    max_page_size = 1000


class ContentNegotiation(DefaultContentNegotiation):
    """An unknown `?format=` is 406 Not Acceptable (DRF answers 404, as if the URL were
    wrong)."""

    def filter_renderers(self, renderers, format):
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            known = ", ".join(renderer.format for renderer in renderers)
            raise NotAcceptable(f"Unknown format {format!r}; use one of: {known}.")
        return matching


class ApiMixin:
    """Settings every LIMS API view shares (set here rather than globally, so other DRF views,
    e.g. the schema, keep theirs)."""

    permission_classes = [ProjectRolePermission]
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    # The lookup from the view's model to its project (core.permissions.scope): "auto" finds
    # it; None for shared records (chemicals).
    project_path: str | None = "auto"
    pagination_class = Pagination
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer, CSVRenderer]
    content_negotiation_class = ContentNegotiation
    schema = AutoSchema()

    def get_exception_handler(self):
        return exception_handler

    def filter_queryset(self, queryset):
        # Lists and `get_object` both pass here: what the user's projects do not hold is not
        # listed and is a 404.
        queryset = super().filter_queryset(queryset)
        return permissions.scope(queryset, self.request.user, self.project_path)


@contextmanager
def service_call(user) -> Iterator[None]:
    """Run a write as `user` (for the audit log: token users are authenticated inside DRF,
    after the audit middleware ran), all or nothing. Numbers so extreme that a derived value
    (an area, a density) cannot be computed are the caller's input error, not a 500."""
    with acting_as(user), transaction.atomic():
        try:
            yield
        except ArithmeticError as exc:
            raise ValidationError(
                {
                    api_settings.NON_FIELD_ERRORS_KEY: [
                        f"These values are out of the range that can be computed with ({exc})."
                    ]
                }
            ) from exc


class ServiceWriteMixin:
    """Creates, updates and deletes through the app's services, in one transaction, recorded
    in the audit log under the API user. Subclasses implement `save_record`."""

    def save_record(self, data: dict[str, Any], instance: Model | None) -> Model:
        raise NotImplementedError

    def _save(self, serializer, instance) -> None:
        data = dict(serializer.validated_data)
        old = data.pop("supersedes", None)
        with service_call(self.request.user), signatures.making_version_of(old):
            saved = self.save_record(data, instance)
            if old is not None:
                signatures.supersede(saved, old, user=self.request.user)
        # Read back through the list queryset, so the answer is what a GET would show.
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_create(self, serializer) -> None:
        self._save(serializer, None)

    def perform_update(self, serializer) -> None:
        self._save(serializer, serializer.instance)

    def perform_destroy(self, instance) -> None:
        with service_call(self.request.user):
            instance.delete()


class CodeLookupMixin:
    """Records are found by item code in the URL, never by database id."""

    lookup_field = "code"
    lookup_value_regex = CODE_REGEX

    def get_object(self):
        # Codes are upper case; accept `pel-0001` as the web search does.
        self.kwargs[self.lookup_field] = self.kwargs[self.lookup_field].upper()
        return super().get_object()


class RecordViewSet(
    CodeLookupMixin, ConditionalMixin, ApiMixin, ServiceWriteMixin, viewsets.ModelViewSet
):
    """CRUD on one kind of item, looked up by code.

    Subclasses set `queryset` (with the select_related/prefetch_related their serializer needs,
    so a list costs the same few queries for 1 or 1000 rows), `serializer_class` and
    `filterset_class` (the one the HTML list uses). Saving goes through `core.services.
    record_save` unless a kind has its own service (override `save_record`). Deleting works
    only when nothing was made from the item: the PROTECT foreign keys refuse it and the
    client gets 409 with the dependent codes.
    """

    ordering_fields = ["code", "created_at", "updated_at"]
    ordering = ["code"]
    # The lab's protocol, used when a new record is sent without `steps` (as the form pre-fills
    # them); None: none.
    default_steps: list[dict] | None = None
    # Serializer fields shown as columns in lineage tables, and the kinds of ancestors whose
    # columns a table of this kind shows (see core.api.lineage_table).
    table_columns: tuple[str, ...] = ()
    table_ancestors: tuple[str, ...] = ()

    def steps_for(self, data: dict[str, Any], instance: Model | None) -> list[Mapping] | None:
        """The steps to save: as sent; the protocol's for a new record sent without them;
        None (leave them as they are) for an update without them."""
        steps = data.pop("steps", None)
        if steps is None and instance is None:
            steps = self.default_steps
        return steps

    # The service that writes this kind (`core.services.record_save` signature); records made
    # from reagent lots use the synthesis one, which also takes `confirm_overdraw`.
    save_service = staticmethod(record_save)

    def save_record(self, data: dict[str, Any], instance: Model | None) -> Model:
        steps = self.steps_for(data, instance)
        options = {k: data.pop(k) for k in WRITE_OPTIONS if k in data}
        return self.save_service(
            self.queryset.model,
            instance=instance,
            user=self.request.user,
            fields=data,
            steps=steps,
            **options,
        )


# kind -> the viewset of that kind; filled by the API router (the composition layer) as it
# registers the apps' routes, so the generic endpoints reach every kind without importing apps.
RECORD_VIEWSETS: dict[str, type[RecordViewSet]] = {}


def register_record_viewset(viewset: type[RecordViewSet]) -> None:
    RECORD_VIEWSETS[str(viewset.queryset.model.KIND)] = viewset


def record_viewsets() -> dict[str, type[RecordViewSet]]:
    """kind -> the viewset of that kind, as registered in the API router."""
    return RECORD_VIEWSETS
