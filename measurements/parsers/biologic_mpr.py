"""BioLogic EC-Lab binary ``.mpr`` (data modules v0-v3), read by the ``galvani`` package.

The column mapping is shared with the ASCII ``.mpt`` reader. Modular sequences mix cycling
and impedance rows in one file (cellpy's biol.mpr: 23,251 cycling rows, 310 PEIS points);
the file is read as the technique that has most rows, and the other rows are reported in a
warning. ``options={"kind": "eis"}`` reads the impedance points instead.
"""

from __future__ import annotations

import io
import pathlib
import warnings as py_warnings

import numpy as np
import polars as pl

from . import _biologic as bio
from ._common import ensure_rows, names_metadata, read_head
from .base import ParsedData, ParseError, guard

_MAGIC = b"BIO-LOGIC MODULAR FILE"


def _load(path: pathlib.Path):
    from galvani import BioLogic  # imported lazily: only workers reading .mpr pay for it

    # galvani reports a truncated module as OSError; reading the bytes ourselves first keeps
    # real I/O errors apart from damaged content.
    content = io.BytesIO(path.read_bytes())
    with py_warnings.catch_warnings():
        py_warnings.simplefilter("ignore")
        try:
            return BioLogic.MPRfile(content)
        except OSError as exc:
            detail = str(exc).strip().splitlines()[0]
            raise ParseError(f"damaged BioLogic .mpr file (truncated?): {detail}") from None


def _frame(records: np.ndarray) -> pl.DataFrame:
    names = [n for n in records.dtype.names if n in bio.USEFUL]
    return pl.DataFrame({n: np.asarray(records[n], dtype=np.float64) for n in names})


def _module_versions(mpr) -> str:
    versions = []
    for module in getattr(mpr, "modules", None) or []:
        try:
            short = module["shortname"].decode("ascii", "replace").strip()
            versions.append(f"{short} v{int(module['version'])}")
        except (KeyError, ValueError, TypeError, AttributeError):
            continue
    return "; ".join(versions)


class BiologicMprParser:
    name = "biologic_mpr"
    label = "BioLogic EC-Lab binary (.mpr)"
    extensions = (".mpr",)
    accepted_options = bio.ACCEPTED_OPTIONS

    def sniff(self, head: bytes, filename: str) -> bool:
        return head.startswith(_MAGIC)

    @guard("BioLogic .mpr")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        head = read_head(path, 64)
        if not head:
            raise ParseError("empty file: no BioLogic data")
        if not head.startswith(_MAGIC):
            raise ParseError("not a BioLogic .mpr file: missing 'BIO-LOGIC MODULAR FILE' signature")
        mpr = _load(path)
        records = mpr.data
        frame = _frame(records)
        ensure_rows(frame, "BioLogic .mpr")
        mapped = bio.to_canonical(frame, options)
        ensure_rows(mapped.data, f"BioLogic .mpr read as {mapped.kind}")
        metadata = {
            "instrument": "BioLogic",
            "format": self.label,
            "modules": _module_versions(mpr),
            "row_count": mapped.data.height,
            "file_row_count": int(len(records)),
            **mapped.metadata,
            **names_metadata(records.dtype.names, mapped.used),
        }
        started = getattr(mpr, "timestamp", None)
        if started is not None:
            metadata["acquisition_started"] = str(started)
        return ParsedData(mapped.kind, mapped.data, metadata, mapped.warnings)


PARSER = BiologicMprParser()
