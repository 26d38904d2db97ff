"""CSV that a spreadsheet opens safely: the web lists' "Export CSV" and the API's `?format=csv`
write their cells through the same function.

A text cell starting with = + - @, a tab or a carriage return is read as a formula by Excel,
LibreOffice and Google Sheets (CSV injection, OWASP); a leading apostrophe makes it plain text
again. Numbers are written as numbers: -0.5 is a value, not a formula, and stays readable by
pandas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as a CSV cell; text that a spreadsheet would run as a formula gets a leading
    apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterable[str]:
    """The header line, then one line per row, every cell made safe (for streaming)."""
    out = io.StringIO()
    # CRLF as RFC 4180 says: a cell holding a carriage return is then quoted, not split.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in header])
    yield out.getvalue()
    for row in rows:
        out.seek(0)
        out.truncate()
        writer.writerow([safe_cell(c) for c in row])
        yield out.getvalue()
