"""One error format for the API: every failure is JSON with a 4xx status, never a 500.

The services raise Django's ValidationError (the web forms show those on their fields); here
they become 400 `{"field": ["message"]}`. A delete blocked by a PROTECT foreign key becomes 409
naming the records that depend on it; other integrity errors (a race on a unique value) 409.
"""

from __future__ import annotations

import logging

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from core import permissions
from core.models import Item, LineageEdge
from core.signatures import RecordLocked, audit_refusal

log = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the records."
    default_code = "conflict"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ValidationError as DRF's field -> messages mapping."""
    if hasattr(exc, "error_dict"):
        return {
            api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field: messages
            for field, messages in exc.message_dict.items()
        }
    return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}


def _dependent_code(obj) -> str:
    """How a person recognises a record that blocks a delete: its own code (an item, a
    measurement), else the item it belongs to."""
    if isinstance(obj, LineageEdge):
        return obj.child.code
    if isinstance(getattr(obj, "code", None), str):
        return obj.code
    field = getattr(obj, "AUDIT_ITEM_FIELD", None)
    item = getattr(obj, field, None) if field else None
    return item.code if isinstance(item, Item) else str(obj)


def _owner(obj) -> Item | None:
    if isinstance(obj, LineageEdge):
        return obj.child
    if isinstance(obj, Item):
        return obj
    field = getattr(obj, "AUDIT_ITEM_FIELD", None) or "item"
    owner = getattr(obj, field, None)
    return owner if isinstance(owner, Item) else None


def protected_conflict(
    exc: ProtectedError | RestrictedError, deleting: str = "", user=None
) -> Conflict:
    blocking = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ())
    # Records of projects the user cannot see are counted, not named.
    hidden = {
        obj
        for obj in blocking
        if user is not None
        and _owner(obj) is not None
        and not permissions.can_view(user, _owner(obj))
    }
    dependents = sorted(
        {_dependent_code(obj) for obj in blocking if obj not in hidden} - {deleting}
    )
    what = deleting or "This record"
    detail = f"{what} cannot be deleted: other records were made from it or use it."
    if hidden:
        detail += f" ({len(hidden)} of them in projects you cannot see.)"
    return Conflict({"detail": detail, "dependents": dependents})


class Locked(Conflict):
    default_code = "locked"


def locked_conflict(exc: RecordLocked, context: dict) -> Locked:
    """409 naming the signature; the refused write is audited (the failed transaction was
    rolled back by now, so the event stays)."""
    request = context.get("request")
    audit_refusal(
        exc, action=f"API {getattr(request, 'method', '')} {getattr(request, 'path', '')}"
    )
    signature = exc.signature
    return Locked(
        {
            "detail": exc.messages[0],
            "locked": exc.locked_code,
            "signature": {
                "item": signature.item.code,
                "meaning": signature.meaning,
                "signer": signature.signer_username,
                "signed_at": signature.signed_at.isoformat(),
            },
        }
    )


def exception_handler(exc: Exception, context: dict):
    """DRF's handler, taught the errors the services and the database raise."""
    if isinstance(exc, RecordLocked):
        exc = locked_conflict(exc, context)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_detail(exc))
    elif isinstance(exc, ProtectedError | RestrictedError):
        view = context.get("view")
        deleting = str(getattr(view, "kwargs", {}).get("code", "")).upper()
        request = context.get("request")
        exc = protected_conflict(exc, deleting, getattr(request, "user", None))
    elif isinstance(exc, RequestDataTooBig):  # over DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = RequestTooLarge()
    elif isinstance(exc, IntegrityError):
        # The database's own words name tables and constraints: logged, not answered.
        log.warning("Integrity error answered as 409", exc_info=exc)
        exc = Conflict(
            "The change conflicts with existing records (e.g. a value that must be unique is "
            "taken, or a record it names was just deleted); reload and try again."
        )
    elif isinstance(exc, DataError):
        # A value the database cannot store; the validators should have caught it first.
        log.warning("Data error answered as 400", exc_info=exc)
        exc = exceptions.ValidationError(
            {
                api_settings.NON_FIELD_ERRORS_KEY: [
                    "A value cannot be stored: it is too long, too large or not valid text."
                ]
            }
        )
    return drf_exception_handler(exc, context)
