"""Request bodies: strict UTF-8 JSON (forms and multipart only where a view takes files).

Whatever a parser lets through reaches the database, so it refuses here what no text column
can store (a NUL character, an unpaired UTF-16 surrogate), naming where in the body it is, and
a multipart body cut off before its end.
"""

from __future__ import annotations

import codecs
import itertools

from django.utils.http import parse_header_parameters
from rest_framework import parsers
from rest_framework.exceptions import ParseError, UnsupportedMediaType, ValidationError
from rest_framework.settings import api_settings
from rest_framework.utils import json

from core.input_checks import (
    TRUNCATED,
    ClosingBoundaryWatch,
    multipart_boundary,
    unstorable_form_field,
)
from core.validators import UNSTORABLE_MESSAGE, unstorable_paths

# Enough places to find the mistake without an answer as large as the body.
_MAX_REPORTED = 20


def require_utf8(media_type: str | None) -> None:
    """415 for a body declared in another charset: JSON is UTF-8 (RFC 8259), and guessing
    would store mis-decoded text."""
    _, params = parse_header_parameters(media_type or "")
    charset = params.get("charset")
    if charset is None:
        return
    try:
        utf8 = codecs.lookup(charset).name == "utf-8"
    except LookupError:
        utf8 = False
    if not utf8:
        raise UnsupportedMediaType(
            media_type, detail=f"The body must be UTF-8; charset={charset!r} is not accepted."
        )


def unstorable_detail(data) -> dict | None:
    """`{"layers": {"1": {"item": [message]}}}` for each place text cannot be stored."""
    detail: dict = {}
    for path in itertools.islice(unstorable_paths(data), _MAX_REPORTED):
        *parents, leaf = path or (api_settings.NON_FIELD_ERRORS_KEY,)
        node = detail
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = [UNSTORABLE_MESSAGE]
    return detail or None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser (no NaN/Infinity; the body is read through Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE check, which the exception handler turns into 413), answering
    400 rather than 500 to absurdly deep nesting (RecursionError) and to text that cannot be
    stored, and 415 to a charset other than UTF-8."""

    def parse(self, stream, media_type=None, parser_context=None):
        require_utf8(media_type)
        try:
            text = codecs.getreader("utf-8")(stream).read()
            data = json.loads(text, parse_constant=json.strict_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        detail = unstorable_detail(data)
        if detail:
            raise ValidationError(detail)
        return data


def _refuse_unstorable_form(data, files=None) -> None:
    problem = unstorable_form_field(data, files)
    if problem:
        raise ParseError(problem)


class MultiPartParser(parsers.MultiPartParser):
    """DRF's, refusing a body cut off before its closing boundary (Django's parser would hand
    over the parts before the cut: a measurement without its file) and unstorable text, as
    `core.middleware.RefuseUnreadableInputMiddleware` does for the web forms."""

    def parse(self, stream, media_type=None, parser_context=None):
        boundary = multipart_boundary(media_type)
        watched = ClosingBoundaryWatch(stream, boundary) if boundary else stream
        parsed = super().parse(watched, media_type, parser_context)
        if boundary and not watched.complete:
            raise ParseError(TRUNCATED)
        _refuse_unstorable_form(parsed.data, parsed.files)
        return parsed


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _refuse_unstorable_form(data)
        return data
