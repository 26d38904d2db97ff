"""BioLogic EC-Lab binary ``.mpr`` (data modules v0, v2 and v3), read by our own reader.

The binary layout is in ``_mpr`` (with the public sources of the format facts); this module
maps its records to canonical columns with the mapping shared with the ASCII ``.mpt`` reader.
Modular sequences mix cycling and impedance rows in one file (cellpy's biol.mpr: 23,251
cycling rows, 310 PEIS points); the file is read as the technique that has most rows, and the
other rows are reported in a warning. ``options={"kind": "eis"}`` reads the impedance points
instead.
"""

from __future__ import annotations

import pathlib

import numpy as np
import polars as pl

from . import _biologic as bio
from . import _mpr
from ._common import ensure_rows, names_metadata, read_head
from .base import ParsedData, ParseError, guard


def _frame(records: np.ndarray) -> pl.DataFrame:
    names = [n for n in records.dtype.names if n in bio.USEFUL]
    return pl.DataFrame({n: np.asarray(records[n], dtype=np.float64) for n in names})


def _skipped_warning(skipped: tuple[int, ...]) -> list[str]:
    return [
        f"column id {cid} is not known to this reader; its bytes were skipped" for cid in skipped
    ]


class BiologicMprParser:
    name = "biologic_mpr"
    label = "BioLogic EC-Lab binary (.mpr)"
    extensions = (".mpr",)
    accepted_options = bio.ACCEPTED_OPTIONS

    def sniff(self, head: bytes, filename: str) -> bool:
        return head.startswith(_mpr.MAGIC)

    @guard("BioLogic .mpr")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        if not read_head(path, 64):
            raise ParseError("empty file: no BioLogic data")
        content = _mpr.read_mpr(path.read_bytes())
        records = content.records
        frame = _frame(records)
        ensure_rows(frame, "BioLogic .mpr")
        mapped = bio.to_canonical(frame, options)
        ensure_rows(mapped.data, f"BioLogic .mpr read as {mapped.kind}")
        metadata = {
            "instrument": "BioLogic",
            "format": self.label,
            "modules": "; ".join(str(m) for m in content.modules),
            "row_count": mapped.data.height,
            "file_row_count": int(len(records)),
            **mapped.metadata,
            **names_metadata(records.dtype.names, mapped.used),
        }
        if content.started is not None:
            metadata["acquisition_started"] = str(content.started)
        warnings = _skipped_warning(content.skipped) + mapped.warnings
        return ParsedData(mapped.kind, mapped.data, metadata, warnings)


PARSER = BiologicMprParser()
