"""API tokens: one per user, created or replaced on request and revocable (the API endpoint
and the web page both call these)."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token


@transaction.atomic
def token_rotate(user) -> Token:
    """A new token for `user`; the old one, if any, stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def token_revoke(user) -> bool:
    """Delete the user's token; whether there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


def token_created(user):
    """When the user's current token was made (None without one); the key is never shown again."""
    return Token.objects.filter(user=user).values_list("created", flat=True).first()
