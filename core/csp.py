"""Content-Security-Policy on every HTML answer: a script runs only if it is one of the site's
own files or carries this response's nonce, so text a user typed (a note, a file name) can never
become a script even if a template forgot to escape it.

The policy is `settings.CONTENT_SECURITY_POLICY` (directive -> sources). `{{ csp_nonce }}` in a
template (context processor `core.csp.nonce`) is the nonce `script-src` allows for this
response. A view that needs one more source wraps itself in `allow(...)`, which widens the
policy for that view's answers only.
"""

from __future__ import annotations

import secrets
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy(
    directives: dict[str, list[str]], nonce: str, extra: dict[str, list[str]] | None = None
) -> str:
    """The header value; the nonce is added to `script-src` (and only there), `extra` sources
    to their directives."""
    parts = []
    for name, sources in directives.items():
        sources = [*sources, *(extra or {}).get(name, [])]
        if name == "script-src":
            sources.append(f"'nonce-{nonce}'")
        parts.append(" ".join([name, *sources]))
    return "; ".join(parts)


def allow(view, **sources: list[str]):
    """The view, its answers' policy widened by `sources` (`img_src=[...]` for `img-src`)."""
    extra = {name.replace("_", "-"): list(values) for name, values in sources.items()}

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.csp_extra = extra
        return response

    return wrapped


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = secrets.token_urlsafe(18)
        response = self.get_response(request)
        if HEADER not in response and "html" in response.get("Content-Type", ""):
            extra = getattr(response, "csp_extra", None)
            response[HEADER] = policy(settings.CONTENT_SECURITY_POLICY, request.csp_nonce, extra)
        return response


def nonce(request: HttpRequest) -> dict:
    """Template context: `csp_nonce`, for `<script nonce="{{ csp_nonce }}">`."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
