from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse


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
