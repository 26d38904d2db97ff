"""Files users uploaded, handed back as downloads that a browser never renders."""

from __future__ import annotations

from django.http import FileResponse


def attachment(handle, filename: str) -> FileResponse:
    """The bytes as an attachment of type application/octet-stream with `nosniff`: an uploaded
    .html or .svg (a script in it) is saved to disk, never shown as a page of this site. The
    type is never guessed from the name, and the browser may not guess it from the bytes."""
    response = FileResponse(
        handle,  # closed by the response once sent
        as_attachment=True,
        filename=filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
