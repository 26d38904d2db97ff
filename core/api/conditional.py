"""Optimistic concurrency for API clients: every record answers with an ETag, a write sent with
`If-Match` is refused with 412 when the record changed since that ETag was read, and a read
sent with `If-None-Match` of the current ETag answers 304.

The ETag is a hash of the record's representation (what a GET returns), so any change a client
could see, including a derived value recomputed by a worker, gives a new one. The comparison
happens after the record's row is locked, in the transaction that then writes: two clients
holding the same ETag cannot both write.
"""

from __future__ import annotations

import hashlib
import json

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from core.services import lock
from core.signatures import check_row_unlocked

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="the record's ETag as you read it: the write is refused with 412 if the record "
    "changed since",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="an ETag you hold: 304 (no body) if the record is still the same",
)


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"


def etag_of(data) -> str:
    body = json.dumps(data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def _listed(header: str) -> set[str]:
    """The entity tags of an If-Match / If-None-Match header ("*" stands for any)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


class ConditionalMixin:
    """For a viewset with retrieve/update/destroy on one record (ModelViewSet and friends)."""

    def _etag(self, instance) -> str:
        return etag_of(self.get_serializer(instance).data)

    def _with_etag(self, response: Response, data=None) -> Response:
        if response.status_code < 300:
            response["ETag"] = etag_of(response.data if data is None else data)
        return response

    def _check_if_match(self, instance) -> None:
        header = self.request.headers.get("If-Match")
        if header is None:
            return
        tags, current = _listed(header), self._etag(instance)
        if "*" not in tags and current not in tags:
            name = getattr(instance, "code", None) or f"This record ({instance.pk})"
            raise PreconditionFailed(
                {
                    "detail": f"{name} was changed since you read it (your If-Match ETag is "
                    "not its current one). Read it again, re-apply your change and send the "
                    "new ETag.",
                    "etag": current,
                }
            )

    def _current_locked(self):
        """The record, its row locked for this transaction, read fresh after the lock."""
        instance = self.get_object()
        # A write to a signed record (or a row of one) is refused before anything is read
        # into it: 409 naming the signature.
        check_row_unlocked(instance)
        lock(instance)
        return self.get_queryset().get(pk=instance.pk)

    def retrieve(self, request, *args, **kwargs) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        etag = etag_of(response.data)
        if etag in _listed(request.headers.get("If-None-Match", "")):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        response["ETag"] = etag
        return response

    def create(self, request, *args, **kwargs) -> Response:
        return self._with_etag(super().create(request, *args, **kwargs))

    def update(self, request, *args, **kwargs) -> Response:
        partial = kwargs.pop("partial", False)
        with transaction.atomic():
            instance = self._current_locked()
            self._check_if_match(instance)
            serializer = self.get_serializer(instance, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)
        return self._with_etag(Response(serializer.data))

    def destroy(self, request, *args, **kwargs) -> Response:
        with transaction.atomic():
            instance = self._current_locked()
            self._check_if_match(instance)
            self.perform_destroy(instance)
        return Response(status=status.HTTP_204_NO_CONTENT)
