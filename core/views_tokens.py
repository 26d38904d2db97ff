"""The web page where a user makes or revokes their API token (the key is shown once)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .api import tokens
from .audit import acting_as


def _days(raw: str) -> tuple[int | None, str | None]:
    """The lifetime typed on the page (empty: the default), or why it is refused."""
    raw = raw.strip()
    if not raw:
        return None, None
    try:
        days = int(raw)
    except ValueError:
        return None, "Days valid: type a whole number of days, or leave it empty."
    error = tokens.lifetime_error(days)
    return days, f"Days valid: {error}" if error else None


@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    # A logged-in session: the password was given at login, so none is asked for here.
    context = {
        "key": None,
        "default_days": settings.LIMS_TOKEN_DAYS,
        "max_days": tokens.max_days(),
        "days": "",
        "error": None,
    }
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        with acting_as(request.user):
            if action == "create":
                context["days"] = request.POST.get("days", "")
                days, error = _days(context["days"])
                if error:
                    context["error"], status = error, 400
                else:
                    # Rendered, not redirected: the key is never stored anywhere it could be
                    # re-read.
                    context["key"] = tokens.token_rotate(request.user, days).key
            elif action == "revoke":
                if tokens.token_revoke(request.user):
                    messages.success(request, "Your API token was revoked.")
                return redirect("account-token")
            else:
                return HttpResponse("Unknown action.", status=400)
    context["token"] = tokens.token_state(request.user)
    return render(request, "lims/token.html", context, status=status)
