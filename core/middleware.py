"""Site-wide middleware: login (except for the REST API, which authenticates on its own), the
upload size limit, and a 400 for input that no view can take."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.urls import Resolver404, resolve
from rest_framework.views import APIView

from .input_checks import (
    CANNOT_STORE,
    TRUNCATED,
    ClosingBoundaryWatch,
    multipart_boundary,
    unstorable_form_field,
)
from .validators import is_unstorable

log = logging.getLogger(__name__)
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def plain_answer(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """An error answer before any view ran: JSON `{"detail": ...}` under /api/, else the
    site's error page (`400.html`, when there is one) or the message as text."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    if status == 400:
        try:
            return render(request, "400.html", {"message": message}, status=status)
        except TemplateDoesNotExist:
            pass
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def is_api_view(view_func) -> bool:
    """Whether a resolved view is a Django REST framework view (APIView, ViewSet, schema)."""
    cls = getattr(view_func, "cls", None)
    return isinstance(cls, type) and issubclass(cls, APIView)


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, skipping DRF views.

    The API authenticates by token inside the view (after middleware has run, so a token user
    still looks anonymous here), and a script must get a 401/403 JSON answer, never a 302 to
    the login page. DRF views apply their own permission classes instead.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if is_api_view(view_func):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class UploadSizeLimitMiddleware:
    """Refuse a request body over the upload limit from its Content-Length, before Django
    reads (and buffers) any of it. Sits before the CSRF middleware, which would read it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.LIMS_MAX_UPLOAD_BYTES
        if length > limit:
            message = f"the upload is larger than the {limit // (1024 * 1024)} MB limit"
            return plain_answer(request, message, 413)
        return self.get_response(request)


class RefuseUnreadableInputMiddleware:
    """400 before any view runs, for the web and the API alike, for input no view can take:

    - a NUL character or an unpaired UTF-16 surrogate in the path, the query string or a
      form/multipart value (PostgreSQL refuses NUL in text with an error that would be a
      500);
    - a multipart body cut off before its closing boundary (Django's parser would hand the
      view the parts before the cut, e.g. a measurement without its file).

    Web forms are parsed here, so the body can be watched while it is read (the views, and
    the CSRF check, then get the parsed data). API views parse their own bodies, with the same
    checks (`core.api.parsers`), so that a JSON-only endpoint still answers a form with 415.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            problem = self.problem(request)
        except RequestDataTooBig:
            return plain_answer(request, "The request body is larger than the server accepts.", 413)
        except (MultiPartParserError, SuspiciousOperation) as exc:
            log.warning("Unreadable request to %r: %s", request.path, exc)
            problem = _unreadable(exc)
        if problem:
            return plain_answer(request, problem, 400)
        return self.get_response(request)

    def problem(self, request: HttpRequest) -> str | None:
        if is_unstorable(request.path):
            return f"The address {CANNOT_STORE}"
        problem = unstorable_form_field(request.GET, what="query parameter")
        if problem:
            return problem
        if request.method == "POST" and request.content_type in FORM_TYPES:
            return None if _is_api(request) else self.body_problem(request)
        return None

    def body_problem(self, request: HttpRequest) -> str | None:
        boundary = multipart_boundary(request.META.get("CONTENT_TYPE", ""))
        watched = None
        if request.content_type == "multipart/form-data" and boundary and _has_body(request):
            watched = request._stream = ClosingBoundaryWatch(request._stream, boundary)
        data, files = request.POST, request.FILES  # parsed now, while the stream is watched
        if watched is not None and not watched.complete:
            return TRUNCATED
        return unstorable_form_field(data, files)


def _is_api(request: HttpRequest) -> bool:
    try:
        return is_api_view(resolve(request.path_info).func)
    except Resolver404:
        return False


def _has_body(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return False


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, TooManyFieldsSent):
        return "The request has too many fields."
    if isinstance(exc, MultiPartParserError):
        return f"The multipart body could not be read: {exc}"
    return "The request could not be read."


class RecordLockedMiddleware:
    """A web write refused because its record is signed (core.signatures.RecordLocked, raised
    by the services or the model guard): a 409 page naming the signature, and an audit event,
    instead of a 500. Forms that show service errors on themselves catch it first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.shortcuts import render

        from .models import Supersession
        from .signatures import RecordLocked, audit_refusal, signatures_covering

        if not isinstance(exception, RecordLocked):
            return None

        audit_refusal(exception, action=f"web {request.method} {request.path}")
        code = exception.locked_code
        context = {
            "reason": exception.messages[0],
            "code": code,
            "item_url": f"/items/{code}/" if code else "",
            # The refusal names the first signature; a record may carry several (its own and
            # its batch's, reviewed then approved): the page lists them all.
            "signatures": signatures_covering(code=code),
            # A record already corrected is not corrected again: point to the new version.
            "superseded_by": Supersession.objects.filter(old__code=code)
            .order_by("at", "id")
            .values_list("new__code", flat=True),
        }
        return render(request, "409_locked.html", context, status=409)
