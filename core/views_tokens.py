"""The web page where a user makes or revokes their API token (the key is shown once)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .api import tokens
from .audit import acting_as


@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    context = {"key": None}
    if request.method == "POST":
        action = request.POST.get("action")
        with acting_as(request.user):
            if action == "create":
                # Rendered, not redirected: the key is never stored anywhere it could be re-read.
                context["key"] = tokens.token_rotate(request.user).key
            elif action == "revoke":
                if tokens.token_revoke(request.user):
                    messages.success(request, "Your API token was revoked.")
                return redirect("account-token")
            else:
                return HttpResponse("Unknown action.", status=400)
    context["created"] = tokens.token_created(request.user)
    return render(request, "lims/token.html", context)
