"""Request bodies: strict JSON only (forms and multipart get 415)."""

from __future__ import annotations

import codecs

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser (no NaN/Infinity; the body is read through Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE check, which the exception handler turns into 413), answering
    400 rather than 500 to absurdly deep nesting (RecursionError) and unknown charsets."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            return json.loads(text, parse_constant=json.strict_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
