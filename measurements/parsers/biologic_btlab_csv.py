"""BioLogic BT-Lab / EC-Lab delimited text export (``.csv``, ``;``-separated, no header block).

One header row of BioLogic column names (``time/s;Ecell/V;I/mA;(Q-Qo)/mA.h;...``), often
re-saved through tools that mangle the units (``Â°C``), and ``time/s`` may hold absolute
date-times (``05/05/2021 15:36:22.757``) instead of seconds. Column meaning is shared with
the .mpt reader.
"""

from __future__ import annotations

import pathlib

import polars as pl

from . import _biologic as bio
from ._common import (
    check_last_line,
    decode,
    ensure_rows,
    first_bad_number,
    first_empty_field,
    first_ragged_line,
    fix_mojibake,
    guess_decimal,
    line_of_value,
    looks_binary,
    names_metadata,
)
from .base import ParsedData, ParseError, guard

_SEPARATORS = (";", "\t", ",")
_DATE_FORMATS = (
    "%m/%d/%Y %H:%M:%S%.f",
    "%d/%m/%Y %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%d.%m.%Y %H:%M:%S%.f",
)


def _header(head: bytes) -> tuple[list[str], str, str] | None:
    """(column names, separator, encoding) if the first line is a BioLogic column row."""
    first = head.split(b"\n", 1)[0]
    text, encoding = decode(first)
    for sep in _SEPARATORS:
        names = [fix_mojibake(n.strip()) for n in text.rstrip("\r").split(sep)]
        has_time = "time/s" in names
        has_signal = bool(bio.pick(names, bio.VOLTAGE) or bio.pick(names, bio.FREQ))
        if len(names) > 2 and has_time and has_signal:
            return names, sep, encoding
    return None


def _col(i: int) -> str:
    return f"column_{i + 1}"


def _read(
    path: pathlib.Path, names: list[str], sep: str, decimal: str, n_fields: int
) -> pl.DataFrame:
    wanted = {i: n for i, n in enumerate(names) if n in bio.USEFUL}
    numeric = {i: n for i, n in wanted.items() if n != "time/s"}  # time may be a date
    # Data lines may end with a separator the header line lacks: size the schema for both.
    n_columns = max(len(names), n_fields)
    schema = {_col(i): (pl.Float64 if i in numeric else pl.String) for i in range(n_columns)}
    try:
        frame = pl.read_csv(
            path,
            has_header=False,
            separator=sep,
            skip_lines=1,
            schema=schema,
            columns=[_col(i) for i in wanted],
            quote_char=None,
            encoding="utf8-lossy",
            decimal_comma=decimal == ",",
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        bad = first_ragged_line(
            path, start_line=2, expected=len(names), separator=sep, encoding="utf-8"
        )
        if bad is not None:
            raise ParseError(
                f"expected {len(names)} columns, found {bad[1]}", line=bad[0]
            ) from None
        error = first_bad_number(
            path, start_line=2, separator=sep, encoding="utf-8", columns=numeric, decimal=decimal
        )
        if error is not None:
            raise error from None
        raise
    frame = frame.rename({_col(i): n for i, n in wanted.items()})
    return frame.filter(~pl.all_horizontal(pl.all().is_null()))


def _check_complete(path: pathlib.Path, names: list[str], sep: str, frame: pl.DataFrame) -> None:
    """Time and voltage are on every row of a sound export; a gap means a damaged line."""
    required = [n for n in ("time/s", bio.pick(names, bio.VOLTAGE)) if n in frame.columns]
    if any(frame.get_column(n).null_count() for n in required):
        bad = first_ragged_line(
            path, start_line=2, expected=len(names), separator=sep, encoding="utf-8"
        )
        if bad is not None:
            raise ParseError(f"expected {len(names)} columns, found {bad[1]}", line=bad[0])
        error = first_empty_field(
            path,
            start_line=2,
            separator=sep,
            encoding="utf-8",
            columns={names.index(n): n for n in required},
        )
        raise error or ParseError("some data rows lack time/s or the voltage")
    check_last_line(path, expected=len(names), separator=sep, encoding="utf-8")


def _seconds(frame: pl.DataFrame) -> tuple[pl.DataFrame, str, str | None]:
    """(frame with ``time/s`` in seconds, time format, unreadable value if any).

    Absolute date-times become seconds since the first row. Day/month order is ambiguous
    (05/06/2021); the reading with the smallest largest gap between consecutive rows wins,
    since instruments sample seconds apart, not months.
    """
    column = frame.get_column("time/s").str.strip_chars()
    numbers = column.str.replace(",", ".").cast(pl.Float64, strict=False)
    if numbers.null_count() == column.null_count():
        return frame.with_columns(numbers.alias("time/s")), "seconds", None
    best: tuple[float, str, pl.Series] | None = None
    fewest: tuple[int, pl.Series] = (column.len() + 1, numbers)
    for fmt in _DATE_FORMATS:
        parsed = column.str.to_datetime(fmt, strict=False)
        if parsed.null_count() < fewest[0]:
            fewest = (parsed.null_count(), parsed)
        if parsed.null_count() != column.null_count():
            continue
        elapsed = (parsed - parsed.first()).dt.total_microseconds() / 1e6
        gap = elapsed.diff().abs().max()
        if best is None or gap < best[0]:
            best = (gap, fmt, elapsed)
    if best is None:
        bad = column.filter(fewest[1].is_null() & column.is_not_null()).head(1).item()
        return frame, "", bad
    return frame.with_columns(best[2].alias("time/s")), f"date-time {best[1]}", None


def _time_error(path: pathlib.Path, names: list[str], sep: str, value: str) -> ParseError:
    line = line_of_value(
        path,
        start_line=2,
        separator=sep,
        encoding="utf-8",
        index=names.index("time/s"),
        value=value,
    )
    return ParseError(
        f"column 'time/s': cannot read {value!r} as seconds or a date-time", line=line
    )


class BiologicBtlabCsvParser:
    name = "biologic_btlab_csv"
    label = "BioLogic BT-Lab/EC-Lab text export (.csv)"
    extensions = (".csv", ".txt")
    accepted_options = bio.ACCEPTED_OPTIONS

    def sniff(self, head: bytes, filename: str) -> bool:
        return not looks_binary(head) and _header(head) is not None

    @guard("BioLogic BT-Lab csv")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        with open(path, "rb") as fh:
            head = fh.read(65536)
        if not head.strip():
            raise ParseError("empty file: no BioLogic data")
        found = _header(head) if not looks_binary(head) else None
        if found is None:
            raise ParseError(
                "not a BioLogic csv export: first line lacks time/s and Ewe/V or Ecell/V"
            )
        names, sep, encoding = found
        lines = head.splitlines()
        first = lines[1].decode("latin-1").split(sep) if len(lines) > 1 else []
        decimal = guess_decimal(first, sep)
        frame = _read(path, names, sep, decimal, len(first))
        ensure_rows(frame, "BioLogic csv export")
        _check_complete(path, names, sep, frame)
        frame, time_format, bad = _seconds(frame)
        if bad is not None:
            raise _time_error(path, names, sep, bad)
        mapped = bio.to_canonical(frame, options)
        ensure_rows(mapped.data, f"BioLogic csv read as {mapped.kind}")
        metadata = {
            "instrument": "BioLogic",
            "format": self.label,
            "encoding": encoding,
            "separator": sep,
            "decimal_separator": decimal,
            "time_format": time_format,
            "row_count": mapped.data.height,
            **mapped.metadata,
            **names_metadata(names, mapped.used),
        }
        return ParsedData(mapped.kind, mapped.data, metadata, mapped.warnings)


PARSER = BiologicBtlabCsvParser()
