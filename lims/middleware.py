"""Site-wide middleware: login (except for the REST API, which authenticates on its own) and
the upload size limit."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.http import HttpResponse, JsonResponse
from rest_framework.views import APIView


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
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain")
        return self.get_response(request)
