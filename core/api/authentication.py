"""Token authentication that honours a token's end date (core.api.tokens)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from . import tokens


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        try:
            # One query, as DRF's own: the user and the end date come with the token.
            token = Token.objects.select_related("user", "expiry").get(key=key)
        except Token.DoesNotExist:
            raise AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        expiry = tokens.expiry_of(token)
        if expiry.expires_at is not None and expiry.expires_at <= timezone.now():
            tokens.token_refused_as_expired(token, expiry)
            when = timezone.localtime(expiry.expires_at)
            raise AuthenticationFailed(
                f"Token expired on {when:%Y-%m-%d %H:%M %Z}: make a new one at /account/token/, "
                "or POST /api/tokens/ with your password."
            )
        return token.user, token
