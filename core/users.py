"""Accounts with history are deactivated, never deleted (as in eLabFTW and openBIS).

Every "who did it" of a record (an item's or a measurement's author, a raw file's uploader, a
signer, a cell's operator, ...) is a foreign key to the user with `on_delete=PROTECT`: deleting
an account that recorded something raises `ProtectedError`, so the records keep naming their
author and a signed record still verifies intact. Such an account is deactivated instead: it
can no longer log in (Django's ModelBackend refuses inactive users, its sessions end) nor use
its API token (`ExpiringTokenAuthentication` refuses inactive users), and its records show its
name as before. An account without history may still be deleted: the audit log keeps its name
(`AuditEvent.username`; `AuditEvent.user` alone is SET_NULL).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction

from .audit import acting_as


def _history_relations() -> list:
    """The reverse relations through which records name a user as who did what: every foreign
    key to the user model that PROTECTs it, read from the models (the lab's apps add theirs
    without the core knowing them)."""
    return [
        rel
        for rel in get_user_model()._meta.get_fields(include_hidden=True)
        if rel.auto_created and not rel.concrete and rel.on_delete is models.PROTECT
    ]


def _nouns(rel) -> tuple[str, str]:
    """(singular, plural) of what a relation counts: the model's `USER_HISTORY` entry for the
    field, else its verbose names ("item", "items")."""
    model = rel.related_model
    named = getattr(model, "USER_HISTORY", {}).get(rel.field.name)
    return named or (str(model._meta.verbose_name), str(model._meta.verbose_name_plural))


def _counts(user) -> list[tuple[int, str, str]]:
    """(count, singular, plural) of each kind of record `user` is named in, the non-zero ones."""
    counts = []
    for rel in _history_relations():
        n = rel.related_model._base_manager.filter(**{rel.field.name: user.pk}).count()
        if n:
            counts.append((n, *_nouns(rel)))
    return counts


def user_history_summary(user) -> dict[str, int]:
    """What `user` recorded, by kind: {"items": 12, "measurements": 30, "signatures": 2};
    empty for an account without history."""
    return {plural: n for n, _, plural in _counts(user)}


def _phrase(counts: list[tuple[int, str, str]]) -> str:
    parts = [f"{n} {singular if n == 1 else plural}" for n, singular, plural in counts]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def deletion_refusal(user) -> str:
    """Why `user` cannot be deleted, in the lab's words; "" when it may be."""
    counts = _counts(user)
    if not counts:
        return ""
    return (
        f"{user.get_username()} recorded {_phrase(counts)}: an account with history cannot be "
        "deleted. Deactivate it instead (untick Active)."
    )


@transaction.atomic
def deactivate_user(user, *, by) -> bool:
    """Deactivate `user` (is_active=False), as `by`; False when it already was. One save of
    the user: the audit signals record it (model `auth.user`, is_active true -> false)."""
    if by is not None and user.pk == by.pk:
        raise ValidationError("You cannot deactivate your own account: ask another administrator.")
    current = get_user_model()._default_manager.select_for_update().get(pk=user.pk)
    if not current.is_active:
        return False
    current.is_active = False
    with acting_as(by):
        current.save(update_fields=["is_active"])
    user.is_active = False
    return True
