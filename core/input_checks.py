"""Checks of raw request input that no view should have to make, shared by the middleware
(web pages, URLs, forms) and the API's body parsers: text that cannot be stored, and a
multipart body cut off before its end."""

from __future__ import annotations

from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from django.utils.http import parse_header_parameters

from .validators import is_unstorable

TRUNCATED = (
    "The upload was cut off before its end (the multipart body has no closing boundary); "
    "nothing was saved. Send it again."
)
CANNOT_STORE = "contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored."


def unstorable_form_field(
    data: QueryDict, files: MultiValueDict | None = None, *, what: str = "form field"
) -> str | None:
    """A message naming the first form field (query parameter) whose name or text cannot be
    stored, or None. (Django already drops such characters from uploaded files' names.)"""
    for key, values in data.lists():
        if is_unstorable(key) or any(isinstance(v, str) and is_unstorable(v) for v in values):
            return f"The {what} {_shown(key)} {CANNOT_STORE}"
    for key in files or ():
        if is_unstorable(key):
            return f"The {what} {_shown(key)} {CANNOT_STORE}"
    return None


def _shown(name: str) -> str:
    return ascii(name) if is_unstorable(name) else f"'{name}'"


def multipart_boundary(content_type: str) -> bytes | None:
    _, params = parse_header_parameters(content_type or "")
    boundary = params.get("boundary")
    try:
        return boundary.encode("ascii") if boundary else None
    except UnicodeEncodeError:
        return None


class ClosingBoundaryWatch:
    """A request body stream that notices whether the multipart close delimiter
    (`--<boundary>--`) went past. Django's parser takes a body that ends without it as
    complete, dropping the unfinished part (a measurement without its file), so the
    caller checks `complete` once the body is parsed."""

    def __init__(self, stream, boundary: bytes):
        self._stream = stream
        self._close = b"--" + boundary + b"--"
        self._tail = b""
        self.complete = False

    def _watch(self, chunk: bytes) -> bytes:
        if not self.complete and chunk:
            window = self._tail + chunk
            self.complete = self._close in window
            self._tail = window[-(len(self._close) - 1) :]
        return chunk

    def read(self, *args, **kwargs) -> bytes:
        return self._watch(self._stream.read(*args, **kwargs))

    def readline(self, *args, **kwargs) -> bytes:
        return self._watch(self._stream.readline(*args, **kwargs))
