"""Audit history: every create, change and delete of a lab record, with who, when, before, after.

Signals catch every write path (web forms, API, admin, shell, workers) in one place. The user
comes from a context variable set per request by `CurrentUserMiddleware` (and by services run
outside a request, e.g. `acting_as(user)`); writes by workers are recorded with no user
("system").
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextvars import ContextVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

_current_user: ContextVar = ContextVar("lims_current_user", default=None)
# Apps whose records are audited: the project's setting `AUDITED_APPS` (the composition layer
# knows the apps; the core does not). Not authtoken: a token row is its secret key, which must
# not be copied into the audit log. A model opts out with `AUDITED = False` (computed results,
# replaced wholesale by the workers and carrying their own inputs and algorithm version).
# Fields that change on every save and would make every event look like a change.
IGNORED_FIELDS = {"updated_at", "last_login", "password", "version"}


class CurrentUserMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        token = _current_user.set(user if user is not None and user.is_authenticated else None)
        try:
            return self.get_response(request)
        finally:
            _current_user.reset(token)


def current_user():
    """The user the current request (or `acting_as` block) acts as; None outside one."""
    return _current_user.get()


@contextlib.contextmanager
def acting_as(user) -> Iterator[None]:
    token = _current_user.set(user)
    try:
        yield
    finally:
        _current_user.reset(token)


def snapshot(instance: models.Model) -> dict:
    data = {}
    for field in instance._meta.concrete_fields:
        if field.name in IGNORED_FIELDS:
            continue
        data[field.attname] = field.value_from_object(instance)
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _audited(sender) -> bool:
    meta = sender._meta
    return meta.app_label in settings.AUDITED_APPS and getattr(sender, "AUDITED", True)


def _item_id(instance) -> int | None:
    from .models import Item

    if isinstance(instance, Item):
        return instance.pk
    field = getattr(instance, "AUDIT_ITEM_FIELD", None)
    return getattr(instance, f"{field}_id", None) if field else None


# `record_event(user=SYSTEM)`: nobody acted (a lock period ran out, a token's time ended).
SYSTEM = object()
_ACTING = object()


def record_event(
    action: str,
    *,
    model: str,
    object_pk: str,
    object_repr: str,
    item_id: int | None = None,
    before=None,
    after=None,
    user=_ACTING,
):
    """One row of the audit log. `user` defaults to whoever is acting (the request's user or
    `acting_as`); their username and id are copied onto the row, so the history still names
    them after the account is deleted."""
    from .models import AuditEvent

    if user is _ACTING:
        user = _current_user.get()
    elif user is SYSTEM:
        user = None
    if user is not None and not user.pk:
        user = None
    return AuditEvent.objects.create(
        user=user,
        username=user.get_username() if user is not None else "",
        user_pk=user.pk if user is not None else None,
        action=action,
        model=model,
        object_pk=object_pk,
        object_repr=object_repr[:200],
        item_id=item_id,
        before=before,
        after=after,
    )


def _record(instance, action: str, before, after) -> None:
    record_event(
        action,
        model=instance._meta.label_lower,
        object_pk=str(instance.pk),
        object_repr=str(instance),
        # A deleted record's item may be going away in the same transaction.
        item_id=None if action == "delete" else _item_id(instance),
        before=before,
        after=after,
    )


def _pre_save(sender, instance, raw=False, **kwargs):
    if raw or not _audited(sender) or instance.pk is None or instance._state.adding:
        instance._audit_before = None
        return
    previous = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_before = snapshot(previous) if previous is not None else None


def _post_save(sender, instance, created, raw=False, **kwargs):
    if raw or not _audited(sender):
        return
    after = snapshot(instance)
    before = getattr(instance, "_audit_before", None)
    if not created and before == after:
        return
    _record(instance, "create" if created else "update", None if created else before, after)


def _post_delete(sender, instance, **kwargs):
    if _audited(sender):
        _record(instance, "delete", snapshot(instance), None)


def connect_signals() -> None:
    pre_save.connect(_pre_save, dispatch_uid="lims_audit_pre_save")
    post_save.connect(_post_save, dispatch_uid="lims_audit_post_save")
    post_delete.connect(_post_delete, dispatch_uid="lims_audit_post_delete")
