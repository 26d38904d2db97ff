"""Any delimited text table, with a column mapping confirmed by the user.

Never chosen by detection (it would accept anything): the upload page calls ``preview`` to
show the detected layout, pre-fills the mapping with ``suggest_mapping``/``suggest_units``,
and the confirmed choice comes back as ``options``::

    {"kind": "cycling",                       # optional: inferred from the mapping
     "mapping": {"time_s": "Time [s]", "voltage_V": "U", "current_mA": 2},  # name or 0-based index
     "units": {"current_mA": 1000.0},         # optional scale factors (A -> mA; -1 flips a sign)
     "delimiter": ";", "decimal": ",", "skip_rows": 3, "header": True}      # optional overrides

Spreadsheets (``.xlsx``, ``.xlsm``, ``.xls``, ``.ods``, recognised from their content, read with
python-calamine) go through the same preview and mapping; ``"sheet": "Channel_11_1"`` chooses
the sheet (default: the sheet with the most rows), ``skip_rows`` and ``header`` count its rows,
and ``decimal`` applies to numbers stored as text.
"""

from __future__ import annotations

import datetime
import pathlib
import re
from dataclasses import dataclass, field

import polars as pl

from measurements import canonical as c

from ._common import (
    KIND_COLUMNS,
    decode,
    finish,
    guess_decimal,
    is_number,
    looks_binary,
    split_fields,
)
from .base import (
    Kind,
    ParsedData,
    ParseError,
    guard,
    is_bool,
    is_finite_number,
    one_of,
    option_errors,
    whole_number,
)

_PREVIEW_BYTES = 64 * 1024
_REQUIRED: dict[str, tuple[str, ...]] = {
    "cycling": (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA),
    "eis": c.EIS_COLUMNS,
    "tga": (c.TIME_S, c.TEMPERATURE_C),
    "xrd": c.XRD_COLUMNS,
}
# Checked in order; the first canonical name whose pattern matches a column takes it.
_PATTERNS: tuple[tuple[str, str], ...] = (
    (c.FREQUENCY_HZ, r"freq"),
    (c.Z_IMAG_OHM, r"im\s*\(?z|z''|z\"|zimag|z_?im|imag"),
    (c.Z_REAL_OHM, r"re\s*\(?z|z'|zreal|z_?re|real"),
    (c.TWO_THETA_DEG, r"2\s*-?theta|two.?theta|theta|angle"),
    (c.INTENSITY, r"intensity|counts|cps"),
    (c.CYCLE, r"cyc"),
    # Arbin/Neware Charge_Capacity and Discharge_Capacity count over a cycle, not a step:
    # never proposed as the per-step counter (the user may still choose them).
    (
        c.STEP_CAPACITY_MAH,
        r"^(?!(dis)?charge.?(capacity|energy))(.*capacity|.*(amp-?hr|q-?qo|\bah\b|mah|charge))",
    ),
    (c.STEP_ENERGY_MWH, r"^(?!(dis)?charge.?energy)(.*(energy|watt-?hr|\bwh\b|mwh))"),
    (c.STEP, r"^step(?!.?time)|^ns$|step.?index"),
    (c.TIME_S, r"^(?!date)(.*time|t\b|.*elapsed|.*\bsec)"),
    (c.TEMPERATURE_C, r"temp|^t[sr]\b|°c"),
    (c.MASS_PCT, r"(weight|mass).*%"),
    (c.MASS_MG, r"weight|mass"),
    (c.VOLTAGE_V, r"volt|potential|ewe|ecell|^u\b|^e\b|^v\b|\bv\)|/v$"),
    (c.CURRENT_MA, r"current|amps?\b|^i\b|/ma$|/a$"),
)
_UNIT_SCALES: dict[str, tuple[tuple[str, float], ...]] = {
    c.TIME_S: ((r"\bmin\b", 60.0), (r"\bh\b|\bhours?\b", 3600.0), (r"\bms\b", 1e-3)),
    c.VOLTAGE_V: ((r"\bmv\b", 1e-3),),
    c.CURRENT_MA: (
        (r"\bµa\b|\bua\b", 1e-3),
        (r"\bma\b|mamp|milli", 1.0),
        (r"\ba\b|amps?\b", 1000.0),
    ),
    c.STEP_CAPACITY_MAH: ((r"\bmah\b|m\s*a\.?h|mamp", 1.0), (r"\bah\b|a\.h|amp-?hr", 1000.0)),
    c.STEP_ENERGY_MWH: ((r"\bmwh\b|mw\.h|mwatt", 1.0), (r"\bwh\b|\bw\.h|watt-?hr", 1000.0)),
    c.MASS_MG: ((r"\bµg\b|\bug\b", 1e-3), (r"\bmg\b", 1.0), (r"\bg\b", 1000.0)),
    c.Z_IMAG_OHM: ((r"^-", -1.0),),
}


@dataclass(frozen=True)
class Layout:
    delimiter: str
    decimal: str
    skip_rows: int  # lines before the header (or before the data without header)
    header: bool
    columns: list[str]
    encoding: str
    sheet: str | None = None  # spreadsheets: the sheet read
    sheets: list[str] = field(default_factory=list)  # spreadsheets: all its sheets


# --- spreadsheets ------------------------------------------------------------------------

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS_MIMETYPE = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"
_SHEET_PREVIEW_ROWS = 400


def workbook_format(head: bytes) -> str | None:
    """'xlsx', 'ods' or 'xls' when the first bytes are a spreadsheet's, else None."""
    if head.startswith(_OLE2):
        return "xls"
    if not head.startswith(b"PK\x03\x04"):
        return None
    if _ODS_MIMETYPE in head[:200]:
        return "ods"
    if b"[Content_Types].xml" in head or b"xl/" in head:
        return "xlsx"
    return None


def is_workbook(path: pathlib.Path) -> bool:
    with open(path, "rb") as fh:
        return workbook_format(fh.read(_PREVIEW_BYTES)) is not None


def _cell_text(value) -> str:
    """A cell as the text a delimited export would hold (floats exactly, by repr)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    return str(value).strip()


def _open_workbook(path: pathlib.Path):
    from python_calamine import CalamineWorkbook

    with open(path, "rb") as fh:
        try:
            return CalamineWorkbook.from_filelike(fh)
        except Exception as exc:  # calamine's own errors: zip, XML, password, ...
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise ParseError(
                f"could not open the spreadsheet ({type(exc).__name__}{': ' if detail else ''}"
                f"{detail}); save it again as .xlsx or .ods, or export the sheet as CSV"
            ) from exc


def _sheet_rows(
    path: pathlib.Path, sheet: str | None, nrows: int | None = None
) -> tuple[str, list[str], list[list[str]]]:
    """(sheet read, all sheet names, rows as text cells) of a workbook."""
    book = _open_workbook(path)
    names = list(book.sheet_names)
    if not names:
        raise ParseError("the spreadsheet has no sheets")
    if sheet is not None and sheet not in names:
        raise ParseError(f"no sheet {sheet!r} in the spreadsheet; its sheets: {', '.join(names)}")
    if sheet is None:  # the sheet with the most rows holds the data, not the info sheet
        sizes = {name: book.get_sheet_by_name(name).height for name in names}
        sheet = max(names, key=lambda name: sizes[name])
    cells = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False, nrows=nrows)
    rows = [[_cell_text(v) for v in row] for row in cells]
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise ParseError(f"sheet {sheet!r} is empty; its sheets: {', '.join(names)}")
    return sheet, names, rows


def _trimmed(row: list[str]) -> list[str]:
    end = len(row)
    while end and not row[end - 1]:
        end -= 1
    return row[:end]


def _sheet_layout(path: pathlib.Path, opts: dict) -> tuple[Layout, list[list[str]]]:
    sheet, names, rows = _sheet_rows(path, opts.get("sheet"), nrows=_SHEET_PREVIEW_ROWS)
    if opts.get("skip_rows") is not None:
        start = int(opts["skip_rows"])
        if start >= len(rows):
            raise ParseError(f"skip_rows={start} skips the whole sheet ({len(rows)} rows)")
    else:
        counts = [len(_trimmed(r)) for r in rows]
        positive = [n for n in counts if n > 1]
        if not positive:
            raise ParseError(f"no table found in sheet {sheet!r}: no row has two cells")
        mode = max(set(positive), key=positive.count)
        start = counts.index(mode)
    width = max(len(_trimmed(r)) for r in rows[start:]) or 1
    first = (rows[start] + [""] * width)[:width]
    header = opts.get("header")
    if header is None:
        header = not all(is_number(x) for x in first if x)
    data_row = rows[start + 1] if header and start + 1 < len(rows) else rows[start]
    decimal = opts.get("decimal") or guess_decimal(data_row, ";")
    if header:
        columns = [x or f"column_{i + 1}" for i, x in enumerate(first)]
    else:
        columns = [f"column_{i + 1}" for i in range(width)]
    layout = Layout("", decimal, start, bool(header), columns, "", sheet, names)
    return layout, rows


def _sheet_frame(path: pathlib.Path, layout: Layout, indices: dict[str, int]) -> pl.DataFrame:
    _, _, rows = _sheet_rows(path, layout.sheet)
    body = rows[layout.skip_rows + (1 if layout.header else 0) :]
    return pl.DataFrame(
        {
            f"column_{i + 1}": pl.Series(
                [r[i] if i < len(r) else None for r in body], dtype=pl.String
            )
            for i in sorted(set(indices.values()))
        }
    ).with_columns(pl.all().replace("", None))


# --- detection ---------------------------------------------------------------------------


def _head_lines(path: pathlib.Path) -> tuple[list[str], str]:
    with open(path, "rb") as fh:
        head = fh.read(_PREVIEW_BYTES)
    if not head.strip():
        raise ParseError("empty file: no data")
    if looks_binary(head):
        raise ParseError("not a delimited text file: binary content")
    text, encoding = decode(head)
    lines = text.splitlines()
    if len(head) == _PREVIEW_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut
    return lines, encoding


def _detect_delimiter(lines: list[str]) -> str:
    sample = [x for x in lines if x.strip()][:60]
    best, best_score = None, 0
    for sep in ("\t", ";", ",", "|"):
        counts = [x.count(sep) for x in sample]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        score = counts.count(mode) * mode
        if mode > 0 and score > best_score:
            best, best_score = sep, score
    if best is None:
        raise ParseError("could not detect the delimiter; set options['delimiter']")
    return best


def _detect_start(lines: list[str], sep: str) -> int:
    """First line with the table's usual field count: skips preambles and comments."""
    counts = [len(x.split(sep)) if x.strip() else 0 for x in lines[:200]]
    positive = [n for n in counts if n > 1]
    if not positive:
        raise ParseError(f"no table found: no line has more than one {sep!r}-separated field")
    mode = max(set(positive), key=positive.count)
    return counts.index(mode)


def detect_layout(path: pathlib.Path, options: dict | None = None) -> Layout:
    opts = options or {}
    if is_workbook(path):
        return _sheet_layout(path, opts)[0]
    if opts.get("sheet") is not None:
        raise ParseError("the option 'sheet' is for spreadsheets (.xlsx, .ods); this is text")
    lines, encoding = _head_lines(path)
    sep = opts.get("delimiter") or _detect_delimiter(lines)
    start = (
        int(opts["skip_rows"]) if opts.get("skip_rows") is not None else _detect_start(lines, sep)
    )
    if start >= len(lines):
        raise ParseError(f"skip_rows={start} skips the whole file ({len(lines)} lines read)")
    first = split_fields(lines[start], sep)
    header = opts.get("header")
    if header is None:
        header = not all(is_number(x) for x in first if x)
    data_line = lines[start + 1] if header and start + 1 < len(lines) else lines[start]
    decimal = opts.get("decimal") or guess_decimal(split_fields(data_line, sep), sep)
    columns = first if header else [f"column_{i + 1}" for i in range(len(first))]
    return Layout(sep, decimal, start, bool(header), columns, encoding)


def preview(path: str | pathlib.Path, n: int = 20, options: dict | None = None) -> dict:
    """What the mapping page shows: detected layout, the columns and the first ``n`` rows."""
    path = pathlib.Path(path)
    if is_workbook(path):
        layout, sheet_rows = _sheet_layout(path, options or {})
        body_rows = sheet_rows[layout.skip_rows + (1 if layout.header else 0) :]
        rows = [r[: len(layout.columns)] for r in body_rows if any(r)][:n]
    else:
        layout = detect_layout(path, options)
        lines, _ = _head_lines(path)
        body = lines[layout.skip_rows + (1 if layout.header else 0) :]
        rows = [split_fields(x, layout.delimiter) for x in body if x.strip()][:n]
    mapping = suggest_mapping(layout.columns)
    kind = _suggest_kind(mapping)
    if kind is not None:
        mapping = {k: v for k, v in mapping.items() if k in KIND_COLUMNS[kind]}
    return {
        "delimiter": layout.delimiter,
        "decimal": layout.decimal,
        "skip_rows": layout.skip_rows,
        "header": layout.header,
        "encoding": layout.encoding,
        "sheet": layout.sheet,
        "sheets": layout.sheets,
        "columns": layout.columns,
        "rows": rows,
        "suggested_mapping": mapping,
        "suggested_units": suggest_units(mapping),
        "suggested_kind": kind,
    }


def _suggest_kind(mapping: dict[str, str]) -> str | None:
    """Cycling exports often carry empty impedance columns too: full cycling sets win."""
    if all(name in mapping for name in _REQUIRED["cycling"]):
        return "cycling"
    for kind in ("eis", "xrd", "tga"):
        if all(name in mapping for name in _REQUIRED[kind]):
            return kind
    return None


def suggest_mapping(columns: list[str]) -> dict[str, str]:
    """Guess canonical name -> column from common column names (each column used once)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for canonical_name, pattern in _PATTERNS:
        for column in columns:
            if column in taken or canonical_name in out:
                continue
            if re.search(pattern, column.strip().lower()):
                out[canonical_name] = column
                taken.add(column)
    return out


def suggest_units(mapping: dict[str, str]) -> dict[str, float]:
    """Scale factors to canonical units implied by unit hints in the column names."""
    out = {}
    for canonical_name, column in mapping.items():
        for pattern, factor in _UNIT_SCALES.get(canonical_name, ()):
            if re.search(pattern, str(column).lower()):
                if factor != 1.0:
                    out[canonical_name] = factor
                break
    return out


def infer_kind(mapping: dict) -> Kind:
    keys = set(mapping)
    if keys & set(c.EIS_COLUMNS):
        return "eis"
    if keys & set(c.XRD_COLUMNS):
        return "xrd"
    if keys & {c.TEMPERATURE_C, c.MASS_MG, c.MASS_PCT}:
        return "tga"
    if keys & {c.VOLTAGE_V, c.CURRENT_MA}:
        return "cycling"
    raise ParseError("cannot tell the kind of data from the mapping; set options['kind']")


# --- parsing -----------------------------------------------------------------------------


def _validate(mapping: dict, kind: str, layout: Layout) -> dict[str, int]:
    """canonical name -> column index, with errors naming what is wrong."""
    allowed = KIND_COLUMNS[kind]
    resolved = {}
    for name, source in mapping.items():
        if name not in allowed:
            raise ParseError(
                f"'{name}' is not a canonical {kind} column; choose from {', '.join(allowed)}"
            )
        if isinstance(source, int) and not isinstance(source, bool):
            if not 0 <= source < len(layout.columns):
                raise ParseError(
                    f"column index {source} out of range (file has {len(layout.columns)} columns)"
                )
            resolved[name] = source
        elif source in layout.columns:
            resolved[name] = layout.columns.index(source)
        else:
            raise ParseError(
                f"column '{source}' missing; detected columns: {', '.join(layout.columns)}"
            )
    missing = [n for n in _REQUIRED[kind] if n not in resolved]
    if kind == "tga" and c.MASS_MG not in resolved and c.MASS_PCT not in resolved:
        missing.append("mass_mg or mass_pct")
    if missing:
        raise ParseError(f"mapping for {kind} data lacks {', '.join(missing)}")
    return resolved


def _read(path: pathlib.Path, layout: Layout, indices: dict[str, int]) -> pl.DataFrame:
    n = len(layout.columns)
    schema = {f"column_{i + 1}": pl.String for i in range(n)}
    try:
        return pl.read_csv(
            path,
            has_header=False,
            separator=layout.delimiter,
            skip_lines=layout.skip_rows + (1 if layout.header else 0),
            schema=schema,
            columns=[f"column_{i + 1}" for i in sorted(set(indices.values()))],
            quote_char='"',
            encoding="utf8-lossy",
            raise_if_empty=False,
        )
    except pl.exceptions.ComputeError as exc:
        if "more fields" in str(exc):
            line = _first_long_line(path, layout)
            raise ParseError(f"expected {n} columns, found more", line=line) from None
        raise


def _first_long_line(path: pathlib.Path, layout: Layout) -> int | None:
    start = layout.skip_rows + (1 if layout.header else 0)
    with open(path, encoding=layout.encoding, errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if number > start and len(line.rstrip("\r\n").split(layout.delimiter)) > len(
                layout.columns
            ):
                return number
    return None


def _numbers(raw: pl.DataFrame, layout: Layout, name: str, index: int) -> pl.Series:
    column = raw.get_column(f"column_{index + 1}").str.strip_chars()
    text = column.str.replace_all(",", ".") if layout.decimal == "," else column
    values = text.cast(pl.Float64, strict=False)
    bad = values.is_null() & column.is_not_null() & (column != "")
    if bad.any():
        row = int(bad.arg_true()[0])
        line = layout.skip_rows + (1 if layout.header else 0) + row + 1
        raise ParseError(
            f"column '{layout.columns[index]}' (for {name}): '{column[row]}' is not a number",
            line=line,
        )
    return values


def _scales(options: dict) -> dict[str, float]:
    units = options.get("units") or {}
    out = {}
    for name, factor in units.items():
        try:
            out[name] = float(factor)
        except (TypeError, ValueError):
            raise ParseError(
                f"units['{name}'] must be a number (scale factor), got {factor!r}"
            ) from None
    return out


# --- options, checked when a user saves them (the module docstring shows them) -------------

_CANONICAL = tuple(dict.fromkeys(name for names in KIND_COLUMNS.values() for name in names))


def _canonical_problem(name) -> str | None:
    if name in _CANONICAL:
        return None
    return f"{name!r} is not a canonical column; use one of: {', '.join(_CANONICAL)}"


def _check_mapping(value) -> str | None:
    if not isinstance(value, dict):
        return "must be an object: canonical column -> the file's column name or 0-based index"
    for name, source in value.items():
        problem = _canonical_problem(name)
        if problem:
            return problem
        is_index = isinstance(source, int) and not isinstance(source, bool) and source >= 0
        if not (is_index or (isinstance(source, str) and source.strip())):
            return f"{name}: give the file's column name or its 0-based index"
    return None


def _check_units(value) -> str | None:
    if not isinstance(value, dict):
        return "must be an object: canonical column -> scale factor (e.g. 1000 for A -> mA)"
    for name, factor in value.items():
        problem = _canonical_problem(name)
        if problem:
            return problem
        if not is_finite_number(factor) or factor == 0:
            return f"{name}: the scale factor must be a non-zero number"
    return None


def _check_delimiter(value) -> str | None:
    if isinstance(value, str) and len(value) == 1 and value not in '\r\n"':
        return None
    return "must be one character, e.g. ';' or '\\t'"


def _check_sheet(value) -> str | None:
    if isinstance(value, str) and value.strip() and len(value) <= 200:
        return None
    return "must be the name of a sheet of the spreadsheet"


ACCEPTED_OPTIONS = {
    "kind": one_of(*KIND_COLUMNS),
    "mapping": _check_mapping,
    "units": _check_units,
    "delimiter": _check_delimiter,
    "decimal": one_of(".", ","),
    "skip_rows": whole_number(0, 100_000),
    "header": is_bool,
    "sheet": _check_sheet,
}


def check_options(options: dict) -> list[str]:
    """What is wrong with generic CSV options, one message per option; the mapping's columns
    must be columns of the kind of data (given, or inferred from the mapping)."""
    errors = option_errors(options, ACCEPTED_OPTIONS)
    mapping = options.get("mapping")
    if errors or not mapping:
        return errors
    try:
        kind = options.get("kind") or infer_kind(mapping)
    except ParseError as exc:
        return [f"kind: {exc.message}"]
    allowed = KIND_COLUMNS[kind]
    wrong = [name for name in mapping if name not in allowed]
    if wrong:
        return [f"mapping: {', '.join(wrong)}: not in {kind} data, which has {', '.join(allowed)}"]
    return []


class GenericCsvParser:
    name = "generic_csv"
    label = "Delimited text or spreadsheet with a column mapping"
    extensions = (".csv", ".txt", ".tsv", ".dat", ".xlsx", ".xlsm", ".xls", ".ods")
    accepted_options = ACCEPTED_OPTIONS

    def sniff(self, head: bytes, filename: str) -> bool:
        return False  # needs a user-confirmed mapping; chosen explicitly, never detected

    def check_options(self, options: dict) -> list[str]:
        return check_options(options)

    @guard("delimited text")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        opts = options or {}
        layout = detect_layout(path, opts)
        mapping = opts.get("mapping")
        if not mapping:
            raise ParseError(
                f"generic CSV needs a column mapping; detected columns: {', '.join(layout.columns)}"
            )
        kind = opts.get("kind") or infer_kind(mapping)
        if kind not in KIND_COLUMNS:
            raise ParseError(f"unknown kind {kind!r}; choose from {', '.join(KIND_COLUMNS)}")
        indices = _validate(mapping, kind, layout)
        if layout.sheet is not None:
            raw = _sheet_frame(path, layout, indices)
        else:
            raw = _read(path, layout, indices)
        keep = ~pl.all_horizontal(pl.all().is_null())
        if layout.sheet is not None:  # a row's number in the sheet, for the messages
            raw = raw.with_row_index("_row", offset=layout.skip_rows + int(layout.header) + 1)
            keep = ~pl.all_horizontal(pl.exclude("_row").is_null())
        raw = raw.filter(keep)
        if raw.height == 0:
            raise ParseError("header found but no data rows")
        scales = _scales(opts)
        try:
            values = {
                n: _numbers(raw, layout, n, i) * scales.get(n, 1.0) for n, i in indices.items()
            }
        except ParseError as exc:
            if layout.sheet is None or exc.line is None:
                raise
            row = int(raw["_row"][exc.line - layout.skip_rows - int(layout.header) - 1])
            raise ParseError(f"sheet {layout.sheet!r}, row {row}: {exc.message}") from None
        frame = pl.DataFrame(values)
        exprs = {n: pl.col(n) for n in values}
        if kind == "tga" and c.MASS_PCT not in exprs:
            exprs[c.MASS_PCT] = pl.col(c.MASS_MG) / pl.col(c.MASS_MG).first() * 100.0
        data = finish(kind, exprs, frame)
        metadata = {
            "format": self.label,
            **({"sheet": layout.sheet} if layout.sheet is not None else {}),
            "encoding": layout.encoding,
            "delimiter": layout.delimiter,
            "decimal_separator": layout.decimal,
            "skip_rows": layout.skip_rows,
            "row_count": data.height,
            "original_columns": "; ".join(layout.columns),
            **{f"column:{n}": layout.columns[i] for n, i in indices.items()},
            **{f"scale:{n}": f for n, f in scales.items()},
        }
        return ParsedData(kind, data, metadata, [])


PARSER = GenericCsvParser()
