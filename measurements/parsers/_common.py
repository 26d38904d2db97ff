"""Helpers shared by the parsers: decoding, line diagnostics, canonical frames."""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterable, Iterator

import polars as pl

from measurements import canonical as c

from .base import Kind, ParseError

HEAD_BYTES = 8192

KIND_COLUMNS: dict[str, tuple[str, ...]] = {
    "cycling": c.CYCLING_COLUMNS,
    "eis": c.EIS_COLUMNS,
    "tga": c.TGA_COLUMNS,
    "xrd": c.XRD_COLUMNS,
}
INT_COLUMNS = frozenset({c.CYCLE, c.STEP})

_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def read_head(path: pathlib.Path, size: int = HEAD_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def looks_binary(head: bytes) -> bool:
    return b"\x00" in head[:4096]


def decode(data: bytes) -> tuple[str, str]:
    """Decode exported text, returning (text, encoding name).

    Instrument PCs write UTF-8 or the Windows code page (cp1252 on western European
    installs, where the degree and micro signs are single bytes); latin-1 is the fallback
    because it accepts any byte, so a few odd bytes in a comment never reject a file.
    ``data`` may be the first kilobytes of a file, cut inside a UTF-8 character.
    """
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            return data[: exc.start].decode("utf-8-sig"), "utf-8"
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def require_text(path: pathlib.Path, label: str) -> tuple[str, str]:
    """Read a small text export whole (EIS, TGA, XRD: kilobytes), refusing binary data."""
    data = path.read_bytes()
    if not data.strip():
        raise ParseError(f"empty file: no {label} data")
    if looks_binary(data):
        raise ParseError(f"not a {label} file: binary content (NUL bytes) in a text format")
    return decode(data)


def is_number(token: str) -> bool:
    return bool(_NUMBER.match(token.strip()))


def to_float(token: str, decimal: str, line: int, column: str) -> float:
    raw = token.strip()
    text = raw.replace(",", ".") if decimal == "," else raw
    try:
        return float(text)
    except ValueError:
        raise ParseError(f"column '{column}': '{raw[:40]}' is not a number", line=line) from None


def fix_mojibake(name: str) -> str:
    """Undo UTF-8 text that was decoded as cp1252 once ('Â°C' -> '°C'), if that is what it is."""
    if "Â" not in name and "Ã" not in name:
        return name
    try:
        return name.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name


def iter_lines(path: pathlib.Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Stream (1-based line number, line) without loading the file; used on error paths."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            yield number, line.rstrip("\r\n")


def first_ragged_line(
    path: pathlib.Path, *, start_line: int, expected: int, separator: str, encoding: str
) -> tuple[int, int] | None:
    """Find the first non-blank line at or after ``start_line`` with a wrong field count.

    Trailing empty fields are tolerated both ways because several exporters end lines with
    a separator that their header line lacks (or the reverse).
    """
    for number, line in iter_lines(path, encoding):
        if number < start_line or not line.strip():
            continue
        fields = line.split(separator)
        found = len(fields)
        stripped = len(line.rstrip(separator + " ").split(separator))
        if not (stripped <= expected <= found or found == expected):
            return number, found
    return None


def first_empty_field(
    path: pathlib.Path, *, start_line: int, separator: str, encoding: str, columns: dict[int, str]
) -> ParseError | None:
    """Locate the first data line where one of the given (index -> name) columns is empty."""
    for number, line in iter_lines(path, encoding):
        if number < start_line or not line.strip():
            continue
        fields = line.split(separator)
        for index, name in columns.items():
            if index >= len(fields) or not fields[index].strip():
                return ParseError(f"column '{name}' is empty", line=number)
    return None


def line_of_value(
    path: pathlib.Path, *, start_line: int, separator: str, encoding: str, index: int, value: str
) -> int | None:
    """Line number of the first data line whose field ``index`` is ``value`` (error paths)."""
    for number, line in iter_lines(path, encoding):
        fields = line.split(separator)
        if number >= start_line and index < len(fields) and fields[index].strip() == value.strip():
            return number
    return None


def check_last_line(path: pathlib.Path, *, expected: int, separator: str, encoding: str) -> None:
    """An export cut short (upload or copy interrupted) ends in a partial line; refuse it.

    Only the file's tail is read; lines are counted only when reporting the error.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    lines = [x for x in tail.splitlines() if x.strip()]
    if not lines:
        return
    last = lines[-1].decode(encoding, errors="replace")
    found = len(last.split(separator))
    stripped = len(last.rstrip(separator + " ").split(separator))
    if found < expected and stripped < expected:
        with open(path, "rb") as fh:
            count = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 22), b""))
        line = count + (0 if tail.endswith(b"\n") else 1)
        raise ParseError(f"expected {expected} columns, found {found} (file truncated?)", line=line)


def first_bad_number(
    path: pathlib.Path,
    *,
    start_line: int,
    separator: str,
    encoding: str,
    columns: dict[int, str],
    decimal: str = ".",
) -> ParseError | None:
    """Locate the first non-numeric value in the given (index -> name) columns."""
    for number, line in iter_lines(path, encoding):
        if number < start_line or not line.strip():
            continue
        fields = line.split(separator)
        for index, name in columns.items():
            if index >= len(fields):
                continue
            token = fields[index].strip()
            if token and not is_number(token if decimal == "." else token.replace(",", ".")):
                return ParseError(f"column '{name}': '{token[:40]}' is not a number", line=number)
    return None


def finish(
    kind: Kind, columns: dict[str, pl.Series | pl.Expr], frame: pl.DataFrame
) -> pl.DataFrame:
    """Build the canonical frame for ``kind`` from expressions over ``frame``.

    Every canonical column of the kind is present, in canonical order, with its dtype; the
    ones the instrument does not export are null.
    """
    exprs = []
    for name in KIND_COLUMNS[kind]:
        dtype = pl.Int64 if name in INT_COLUMNS else pl.Float64
        value = columns.get(name)
        if value is None:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        elif isinstance(value, pl.Series):
            exprs.append(pl.lit(value).cast(dtype).alias(name))
        else:
            exprs.append(value.cast(dtype).alias(name))
    return frame.select(exprs)


def ensure_rows(frame: pl.DataFrame, what: str) -> None:
    if frame.height == 0:
        raise ParseError(f"{what}: header found but no data rows")


def names_metadata(original: Iterable[str], used: dict[str, str]) -> dict[str, str]:
    """Metadata entries recording the instrument's column names and which one fed each column."""
    meta = {"original_columns": "; ".join(original)}
    meta.update({f"column:{canon}": source for canon, source in used.items()})
    return meta


def _step_starts(step: pl.Expr) -> pl.Expr:
    return step.ne_missing(step.shift(1))


def step_capacity_from_charge(charge_mah: pl.Expr, step: pl.Expr) -> pl.Expr:
    """Charge since the start of each step from a cumulative counter ((Q-Qo), Ah-counters).

    A step is a run of rows with the same step index; counting from the last point of the
    previous run (not the first point of this one) keeps the charge of the first interval.
    Written without window functions (``over`` would evaluate the shift inside each run).
    """
    before = charge_mah.shift(1).fill_null(0.0)
    base = pl.when(_step_starts(step)).then(before).otherwise(None).forward_fill()
    return (charge_mah - base).abs()


def step_capacity_from_increments(dq_mah: pl.Expr, step: pl.Expr) -> pl.Expr:
    """Same, from per-point increments (BioLogic dq/mA.h)."""
    return step_capacity_from_charge(dq_mah.fill_null(0.0).cum_sum(), step)


def current_from_increments(dq_mah: pl.Expr, time_s: pl.Expr, step: pl.Expr | None) -> pl.Expr:
    """Mean current over each interval, mA, from the charge passed in it (dq) and its length.

    BioLogic files recorded without the I/mA column still carry dq. A point with no interval
    before it (the first point) or a zero-length one has no current of its own; it takes the
    current of the next point of the same step (else the previous one), and with no other
    point in its step, 0 when no charge passed. What is left null (charge passed in no time,
    alone in its step) is reported by the caller.
    """
    dt = time_s.diff()
    current = pl.when(dt > 0).then(dq_mah * 3600.0 / dt).otherwise(None)
    if step is not None:
        # Fill from the neighbours within the same run of the step counter, without window
        # functions (``over`` is refused inside the parsers' select).
        run = step.rle_id()
        has = current.is_not_null()
        later = pl.when(has).then(run).backward_fill() == run
        earlier = pl.when(has).then(run).forward_fill() == run
        current = (
            pl.when(has)
            .then(current)
            .when(later.fill_null(False))
            .then(current.backward_fill())
            .when(earlier.fill_null(False))
            .then(current.forward_fill())
            .otherwise(None)
        )
    return pl.when(current.is_null() & (dq_mah.fill_null(0.0) == 0.0)).then(0.0).otherwise(current)


def split_fields(line: str, separator: str | None) -> list[str]:
    """Split a data line; ``None`` means runs of whitespace (fixed-width exports)."""
    if separator is None:
        return line.split()
    return [f.strip() for f in line.split(separator)]


def guess_separator(lines: list[str]) -> str | None:
    """The separator that splits the sample lines into the same number (>1) of fields."""
    sample = [x for x in lines if x.strip()][:20]
    if not sample:
        return None
    for sep in ("\t", ";", ","):
        counts = {len(x.rstrip(sep).split(sep)) for x in sample}
        if len(counts) == 1 and counts.pop() > 1:
            return sep
    return None  # whitespace


def guess_decimal(tokens: list[str], separator: str | None) -> str:
    """',' if numbers are written with a decimal comma (never when ',' separates fields)."""
    if separator == ",":
        return "."
    has_comma = any(re.fullmatch(r"[+-]?\d*,\d+([eE][+-]?\d+)?", t) for t in tokens)
    has_point = any(re.fullmatch(r"[+-]?\d*\.\d+([eE][+-]?\d+)?", t) for t in tokens)
    return "," if has_comma and not has_point else "."


def numeric_rows(
    lines: list[tuple[int, str]],
    *,
    separator: str | None,
    decimal: str,
    names: list[str],
    indices: dict[str, int],
) -> dict[str, list[float]]:
    """Read the named columns of (line number, text) rows as floats, with line-numbered errors.

    For small files only (EIS spectra, TGA runs, XRD patterns): it is a Python loop.
    """
    out: dict[str, list[float]] = {name: [] for name in indices}
    expected = len(names)
    for number, line in lines:
        fields = split_fields(line, separator)
        while len(fields) > expected and not fields[-1]:
            fields.pop()
        if len(fields) != expected:
            raise ParseError(f"expected {expected} columns, found {len(fields)}", line=number)
        for name, index in indices.items():
            out[name].append(to_float(fields[index], decimal, number, names[index]))
    return out


def frame_from_values(kind: Kind, values: dict[str, list[float]]) -> pl.DataFrame:
    """Canonical frame from plain column lists (the small-file readers)."""
    raw = pl.DataFrame({k: pl.Series(k, v, dtype=pl.Float64) for k, v in values.items()})
    return finish(kind, {k: pl.col(k) for k in values}, raw)
