"""Instrument-file parsers: one module per format behind one interface, and a registry.

    from measurements.parsers import parse_file
    result = parse_file(path, filename="cell7_GCPL.mpt")   # -> ParsedData (canonical columns)

Detection reads only the first 8 KB and the original file name; formats are tried in the
order of ``PARSERS`` (signatures that cannot be mistaken first, content heuristics later).
The generic delimited-text parser never claims a file: it needs a mapping from the user.
"""

from __future__ import annotations

import contextlib
import pathlib

from measurements.analysis import AnalysisError
from measurements.analysis.cycling import cycle_rule

from . import (
    arbin_res,
    autolab,
    biologic_btlab_csv,
    biologic_mpr,
    biologic_mpt,
    chi_txt,
    gamry_dta,
    generic_csv,
    ivium_idf,
    maccor,
    maccor_md,
    neware_nda,
    neware_ndax,
    palmsens_pssession,
    tga,
    versastudio_par,
    xrd_xy,
    zplot,
)
from ._common import HEAD_BYTES
from .base import Doubt, ParsedData, ParseError, Parser, option_errors

__all__ = [
    "PARSERS",
    "Doubt",
    "ParseError",
    "ParsedData",
    "Parser",
    "check_options",
    "detect",
    "get_parser",
    "parse_file",
]

PARSERS: tuple[Parser, ...] = (
    biologic_mpr.PARSER,  # binary signature
    arbin_res.PARSER,  # MS Access (Jet) signature
    neware_ndax.PARSER,  # zip signature + member names
    neware_nda.PARSER,  # "NEWARE" signature
    biologic_mpt.PARSER,  # "EC-Lab ASCII FILE"
    zplot.PARSER,  # "ZPLOT2 ASCII"
    gamry_dta.PARSER,  # "EXPLAIN" + "TAG"
    palmsens_pssession.PARSER,  # UTF-16 BOM + "PalmSens.DataFiles.SessionFile"
    ivium_idf.PARSER,  # 16 NUL bytes + "Version=" section, "Method=" header
    versastudio_par.PARSER,  # "<Application>" + "Name=VersaStudio"
    chi_txt.PARSER,  # "A.C. Impedance" + "Freq/Hz"
    autolab.PARSER,  # "Z60W Data File" title or a NOVA column line
    tga.STARE_PARSER,  # "Curve Values:"
    maccor.PARSER,  # header row "Rec# ... State"
    maccor_md.PARSER,  # header row "Rec  Cycle P  Cycle C ... Md"
    biologic_btlab_csv.PARSER,  # header row with time/s and Ewe/V or Ecell/V
    tga.TA_PARSER,  # header row with Time, Temperature and Weight
    xrd_xy.PARSER,  # .xy extension or a "theta" header
    generic_csv.PARSER,  # never detected: needs a user mapping
)
_BY_NAME = {p.name: p for p in PARSERS}


def _supported() -> str:
    return ", ".join(p.label for p in PARSERS if p.name != generic_csv.PARSER.name)


def get_parser(name: str) -> Parser:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ParseError(f"unknown parser {name!r}; available: {', '.join(_BY_NAME)}") from None


def _detected_options() -> dict:
    """The options a detected format may take (the generic parser is never detected)."""
    accepted: dict = {}
    for parser in PARSERS:
        if parser is not generic_csv.PARSER:
            for key, check in getattr(parser, "accepted_options", {}).items():
                accepted.setdefault(key, check)
    return accepted


def check_options(parser_name: str, options: dict) -> list[str]:
    """What is wrong with `options` for the named parser (or, with no name, for whichever
    format is detected): unknown options and bad values, one message each."""
    if not parser_name:
        return option_errors(options, _detected_options())
    parser = get_parser(parser_name)
    errors = option_errors(options, getattr(parser, "accepted_options", {}))
    cross_check = getattr(parser, "check_options", None)
    return cross_check(options) if cross_check and not errors else errors


def detect(path_or_head: str | pathlib.Path | bytes, filename: str | None = None) -> Parser:
    """The parser for a file, from its first bytes (or the bytes given) and its name."""
    if isinstance(path_or_head, bytes):
        head = path_or_head[:HEAD_BYTES]
    else:
        path = pathlib.Path(path_or_head)
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
        filename = filename or path.name
    name = filename or ""
    if not head.strip():
        raise ParseError(f"empty file{f' {name!r}' if name else ''}: nothing to read")
    for parser in PARSERS:
        if parser.sniff(head, name):
            return parser
    workbook = generic_csv.workbook_format(head)
    if workbook:
        raise ParseError(
            f"{name or 'this file'} is a spreadsheet (.{workbook}): it needs a column mapping "
            "(which column holds what, and which sheet), confirmed on the measurement's page"
        )
    raise ParseError(
        f"unrecognised file format{f' for {name!r}' if name else ''}; supported formats: "
        f"{_supported()}; any other delimited text can be read with a column mapping"
    )


def parse_file(
    path: str | pathlib.Path,
    filename: str | None = None,
    parser_name: str | None = None,
    options: dict | None = None,
) -> ParsedData:
    """Parse ``path`` with the named parser, or the detected one.

    ``filename`` is the name the file was uploaded under (the store keeps raw files under
    their hash), used for detection only.
    """
    path = pathlib.Path(path)
    parser = get_parser(parser_name) if parser_name else detect(path, filename or path.name)
    result = parser.parse(path, options=options)
    result.metadata.setdefault("parser", parser.name)
    if result.kind == "cycling" and "cycle_rule" not in result.metadata:
        # Data the analysis refuses gets no rule: computing its cycles will say why.
        with contextlib.suppress(AnalysisError):
            result.metadata["cycle_rule"] = cycle_rule(result.data)
    return result
