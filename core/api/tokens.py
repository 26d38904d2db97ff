"""API tokens: one per user, created or replaced on request, revocable, and (by default) with
an end date (`LIMS_TOKEN_DAYS`). The API endpoint and the web page both call these; each
creation, replacement, revocation and expiry is an event of the audit log. The events name the
token by its owner and date, never by its key (the key is the secret)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.audit import SYSTEM, record_event
from core.models import AuditAction, TokenExpiry

MAX_DAYS = 3650  # a bound for a requested lifetime when the setting sets none


@dataclass(frozen=True)
class TokenState:
    created: datetime
    expires_at: datetime | None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


def default_expiry(created: datetime) -> datetime | None:
    days = settings.LIMS_TOKEN_DAYS
    return created + timedelta(days=days) if days else None


def expiry_of(token: Token) -> TokenExpiry:
    """The token's end date; a token made elsewhere (the admin's Tokens) gets the default
    lifetime from when it was made, on first use."""
    try:
        return token.expiry
    except TokenExpiry.DoesNotExist:
        expiry, _ = TokenExpiry.objects.get_or_create(
            token=token, defaults={"expires_at": default_expiry(token.created)}
        )
        return expiry


def max_days() -> int:
    return settings.LIMS_TOKEN_DAYS or MAX_DAYS


def lifetime_error(days: int | None) -> str | None:
    """Why a requested lifetime in days is refused (None: it is fine)."""
    if days is None:
        return None
    if days < 1:
        return "Must be at least 1 day."
    if days > max_days():
        if settings.LIMS_TOKEN_DAYS:
            return f"Must be at most {max_days()} days (the lab's limit, LIMS_TOKEN_DAYS)."
        return f"Must be at most {MAX_DAYS} days."
    return None


def _event(action: str, user, token: Token | None, expires_at, actor=None) -> None:
    after = None
    if token is not None:
        after = {
            "user": user.pk,
            "created": token.created.isoformat(),
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
    record_event(
        action,
        model="authtoken.token",
        object_pk=str(user.pk),
        object_repr=f"API token of {user.get_username()}",
        after=after,
        **({"user": actor} if actor is not None else {}),
    )


@transaction.atomic
def token_rotate(user, days: int | None = None) -> Token:
    """A new token for `user`, working for `days` (default `LIMS_TOKEN_DAYS`; 0 there: until
    revoked); the old one, if any, stops working at once."""
    error = lifetime_error(days)
    if error:
        raise ValueError(error)
    days = days or settings.LIMS_TOKEN_DAYS
    replaced, _ = Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    expires_at = token.created + timedelta(days=days) if days else None
    TokenExpiry.objects.create(token=token, expires_at=expires_at)
    _event(AuditAction.ROTATE if replaced else AuditAction.CREATE, user, token, expires_at)
    return token


@transaction.atomic
def token_revoke(user) -> bool:
    """Delete the user's token; whether there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        _event(AuditAction.DELETE, user, None, None)
    return bool(deleted)


def token_state(user) -> TokenState | None:
    """When the user's current token was made and when it ends (None without one); the key is
    never shown again."""
    row = Token.objects.filter(user=user).values_list("created", "expiry__expires_at").first()
    return TokenState(*row) if row else None


def token_refused_as_expired(token: Token, expiry: TokenExpiry) -> None:
    """Audit a token's expiry, once: the first time it is refused for it."""
    if TokenExpiry.objects.filter(pk=expiry.pk, expiry_recorded=False).update(expiry_recorded=True):
        _event(AuditAction.EXPIRE, token.user, token, expiry.expires_at, actor=SYSTEM)
