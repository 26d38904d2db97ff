"""The binary layout of BioLogic EC-Lab ``.mpr`` files: bytes in, numpy records out.

Our own reader (MIT, like the rest of the project); no third-party format library. The facts
it relies on, re-expressed here, come from public descriptions of the format:

- file and module layout, data-module column ids, dtypes and flag bits: the MIT-licensed npm
  package ``biologic-converter`` by cheminfo (``src/mpr/modules/parseModuleHeader.ts``,
  ``parseData.ts``, ``src/utility/ids.ts``);
- the longer module header written by EC-Lab >= 11.50 (a 0xFFFFFFFF field before the length,
  a fourth number before the date): the header dump in echemdata/galvani issue #87;
- where the data points start in data modules v0 (EC-Lab >= 11.50), v2 and v3 (0x3EF, 0x195,
  0x196): the file-structure notes in the yadg documentation and galvani issue/PR #35/#36
  ("406 bytes before the data" in v3);
- the OLE acquisition date at 0x249 of the LOG module: the yadg documentation.

Each was checked on real files: the two in ``tests/data/instrument-files`` and, outside the
repository, the public yadg test files against their EC-Lab text exports. The v0 column ids
were found to start one byte later than in v2/v3 (the column count is a 16-bit number there).

Layout (little-endian throughout)::

    0x00  "BIO-LOGIC MODULAR FILE\\x1a", space padding, 4 zero bytes   (0x34 bytes)
    then modules, each:
          "MODULE", short name (10 bytes), long name (25 bytes),
          [0xFFFFFFFF]           only in the longer (EC-Lab >= 11.50) header
          length u4, version u4,
          [unknown u4]           only in the longer header
          date (8 ASCII bytes), then ``length`` bytes of content.
    data module ("VMP data") content:
          0x00 number of points u4; 0x04 number of columns (u1, u2 in v0);
          column ids u2 from 0x05 (0x06 in v0); points from 0x195 (v2), 0x196 (v3), 0x3EF (v0),
          one packed record per point, fields in column-id order. The flag ids share one byte.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from .base import ParseError

MAGIC = b"BIO-LOGIC MODULAR FILE"
_FIRST_MODULE = 0x34
_MODULE = b"MODULE"
_LONG_HEADER_MARK = 0xFFFFFFFF

_HEADER = np.dtype(
    [("short", "S10"), ("long", "S25"), ("length", "<u4"), ("version", "<u4"), ("date", "S8")]
)
_LONG_HEADER = np.dtype(
    [
        ("short", "S10"),
        ("long", "S25"),
        ("mark", "<u4"),
        ("length", "<u4"),
        ("version", "<u4"),
        ("unknown", "<u4"),
        ("date", "S8"),
    ]
)

DATA_MODULE = "VMP data"
LOG_MODULE = "VMP LOG"
_OLE_DATE_AT = 0x249  # f8, days since 1899-12-30 (OLE automation date), in the LOG module
_OLE_EPOCH = dt.datetime(1899, 12, 30)


@dataclass(frozen=True)
class _DataLayout:
    count_dtype: str  # the number of columns
    ids_at: int  # first column id (u2 each)
    points_at: int  # first data point


# Offsets from the start of the data module's content, by module version. v0 is known only
# as EC-Lab >= 11.50 writes it (with the longer module header). No public description of a
# v1 layout, or of a v0 one with the short header, was found; such files are refused.
_DATA_LAYOUTS = {
    0: _DataLayout("<u2", 0x06, 0x3EF),
    2: _DataLayout("u1", 0x05, 0x195),
    3: _DataLayout("u1", 0x05, 0x196),
}

# Flag columns: bits of one shared byte (mode: bits 0-1, ox/red: 2, error: 3, control
# changes: 4, Ns changes: 5, counter inc.: 7). Source: biologic-converter ids.ts (MIT).
FLAG_IDS = frozenset({0x01, 0x02, 0x03, 0x15, 0x1F, 0x41})
FLAGS = "flags"

# Column id -> (name as EC-Lab's text export heads the column, numpy dtype).
# Source: biologic-converter src/utility/ids.ts (MIT), units written the .mpt way
# (mA.h, W.h, Ohm); 0x0B is "<I>/mA" as in EC-Lab's CV exports.
COLUMNS: dict[int, tuple[str, str]] = {
    0x04: ("time/s", "<f8"),
    0x05: ("control/V/mA", "<f4"),
    0x06: ("Ewe/V", "<f4"),
    0x07: ("dq/mA.h", "<f8"),
    0x08: ("I/mA", "<f4"),
    0x09: ("Ece/V", "<f4"),
    0x0B: ("<I>/mA", "<f8"),
    0x0D: ("(Q-Qo)/mA.h", "<f8"),
    0x10: ("Analog IN 1/V", "<f4"),
    0x11: ("Analog IN 2/V", "<f4"),
    0x13: ("control/V", "<f4"),
    0x14: ("control/mA", "<f4"),
    0x17: ("dQ/mA.h", "<f8"),
    0x18: ("cycle number", "<f8"),
    0x20: ("freq/Hz", "<f4"),
    0x21: ("|Ewe|/V", "<f4"),
    0x22: ("|I|/A", "<f4"),
    0x23: ("Phase(Z)/deg", "<f4"),
    0x24: ("|Z|/Ohm", "<f4"),
    0x25: ("Re(Z)/Ohm", "<f4"),
    0x26: ("-Im(Z)/Ohm", "<f4"),
    0x27: ("I Range", "<u2"),
    0x46: ("P/W", "<f4"),
    0x4A: ("|Energy|/W.h", "<f8"),
    0x4B: ("Analog OUT/V", "<f4"),
    0x4C: ("<I>/mA", "<f4"),
    0x4D: ("<Ewe>/V", "<f4"),
    0x4E: ("Cs-2/µF-2", "<f4"),
    0x60: ("|Ece|/V", "<f4"),
    0x62: ("Phase(Zce)/deg", "<f4"),
    0x63: ("|Zce|/Ohm", "<f4"),
    0x64: ("Re(Zce)/Ohm", "<f4"),
    0x65: ("-Im(Zce)/Ohm", "<f4"),
    0x7B: ("Energy charge/W.h", "<f8"),
    0x7C: ("Energy discharge/W.h", "<f8"),
    0x7D: ("Capacitance charge/µF", "<f8"),
    0x7E: ("Capacitance discharge/µF", "<f8"),
    0x83: ("Ns", "<u2"),
    0xA3: ("|Estack|/V", "<f4"),
    0xA8: ("Rcmp/Ohm", "<f4"),
    0xA9: ("Cs/µF", "<f4"),
    0xAC: ("Cp/µF", "<f4"),
    0xAD: ("Cp-2/µF-2", "<f4"),
    0xAE: ("<Ewe>/V", "<f4"),
    0xF1: ("|E1|/V", "<f4"),
    0xF2: ("|E2|/V", "<f4"),
    0x10F: ("Phase(Z1)/deg", "<f4"),
    0x110: ("Phase(Z2)/deg", "<f4"),
    0x12D: ("|Z1|/Ohm", "<f4"),
    0x12E: ("|Z2|/Ohm", "<f4"),
    0x14B: ("Re(Z1)/Ohm", "<f4"),
    0x14C: ("Re(Z2)/Ohm", "<f4"),
    0x169: ("-Im(Z1)/Ohm", "<f4"),
    0x16A: ("-Im(Z2)/Ohm", "<f4"),
    0x187: ("<E1>/V", "<f4"),
    0x188: ("<E2>/V", "<f4"),
    0x1A6: ("Phase(Zstack)/deg", "<f4"),
    0x1A7: ("|Zstack|/Ohm", "<f4"),
    0x1A8: ("Re(Zstack)/Ohm", "<f4"),
    0x1A9: ("-Im(Zstack)/Ohm", "<f4"),
    0x1AA: ("<Estack>/V", "<f4"),
    0x1AE: ("Phase(Zwe-ce)/deg", "<f4"),
    0x1AF: ("|Zwe-ce|/Ohm", "<f4"),
    0x1B0: ("Re(Zwe-ce)/Ohm", "<f4"),
    0x1B1: ("-Im(Zwe-ce)/Ohm", "<f4"),
    0x1B2: ("(Q-Qo)/C", "<f4"),
    0x1B3: ("dQ/C", "<f4"),
    0x1B9: ("<Ece>/V", "<f4"),
    0x1CE: ("Temperature/°C", "<f4"),
    0x1D3: ("Q charge/discharge/mA.h", "<f8"),
    0x1D4: ("half cycle", "<u4"),
    0x1D5: ("z cycle", "<u4"),
    0x1D7: ("<Ece>/V", "<f4"),
    0x1D9: ("THD Ewe/%", "<f4"),
    0x1DA: ("THD I/%", "<f4"),
    0x1DC: ("NSD Ewe/%", "<f4"),
    0x1DD: ("NSD I/%", "<f4"),
    0x1DF: ("NSR Ewe/%", "<f4"),
    0x1E0: ("NSR I/%", "<f4"),
    **{0x1E6 + k: (f"|Ewe h{k + 2}|/V", "<f4") for k in range(6)},
    **{0x1EC + k: (f"|I h{k + 2}|/A", "<f4") for k in range(6)},
}


@dataclass(frozen=True)
class Module:
    name: str  # short name, e.g. "VMP data"
    version: int
    start: int  # offset of the module's content in the file
    length: int
    long_header: bool = False  # the header EC-Lab >= 11.50 writes

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class MprContent:
    modules: tuple[Module, ...]
    records: np.ndarray  # structured: one field per column (flags packed in FLAGS)
    skipped: tuple[int, ...]  # unknown column ids whose bytes were skipped
    started: dt.datetime | None  # acquisition start, from the LOG module


def _truncated(detail: str) -> ParseError:
    return ParseError(f"damaged BioLogic .mpr file (truncated?): {detail}")


def _damaged(detail: str) -> ParseError:
    return ParseError(f"damaged BioLogic .mpr file: {detail}")


def _text(raw: bytes) -> str:
    return raw.decode("ascii", "replace").strip()


def read_modules(data: bytes) -> tuple[Module, ...]:
    """Walk the modules from byte 0x34 to the end of the file; each must end where the next
    begins (or at the end of the file)."""
    modules = []
    pos = _FIRST_MODULE
    while pos < len(data):
        if pos + len(_MODULE) > len(data):
            raise _truncated(f"the file ends inside a module header at byte {pos}")
        if data[pos : pos + len(_MODULE)] != _MODULE:
            raise _damaged(f"no module starts at byte {pos} (expected 'MODULE')")
        module = _module_at(data, pos + len(_MODULE))
        modules.append(module)
        pos = module.start + module.length
    if not modules:
        raise _truncated("no module after the file header")
    return tuple(modules)


def _module_at(data: bytes, pos: int) -> Module:
    if pos + _HEADER.itemsize > len(data):
        raise _truncated(f"the file ends inside a module header at byte {pos}")
    mark = int.from_bytes(data[pos + 35 : pos + 39], "little")
    dtype = _LONG_HEADER if mark == _LONG_HEADER_MARK else _HEADER
    if pos + dtype.itemsize > len(data):
        raise _truncated(f"the file ends inside a module header at byte {pos}")
    header = np.frombuffer(data, dtype=dtype, count=1, offset=pos)[0]
    name, version, length = _text(header["short"]), int(header["version"]), int(header["length"])
    module = Module(name, version, pos + dtype.itemsize, length, dtype is _LONG_HEADER)
    left = len(data) - module.start
    if module.length > left:
        raise _truncated(
            f"module '{module.name}' announces {module.length} bytes but only {left} follow"
        )
    return module


def record_dtype(column_ids: list[int], row_size: int | None) -> tuple[np.dtype, tuple[int, ...]]:
    """The packed record of one point, and the unknown ids skipped.

    One unknown id can be skipped when the row size is known (its width is what is left);
    with two or more the split between them is unknowable.
    """
    unknown = tuple(cid for cid in column_ids if cid not in COLUMNS and cid not in FLAG_IDS)
    if len(unknown) > 1 or (unknown and row_size is None):
        ids = ", ".join(str(cid) for cid in unknown)
        raise ParseError(
            f"BioLogic .mpr data module has column ids this reader does not know ({ids}); "
            "export the file to .mpt from EC-Lab and upload that"
        )
    fields: list[tuple[str, str]] = []
    for cid in column_ids:
        if cid in FLAG_IDS:
            if (FLAGS, "u1") not in fields:
                fields.append((FLAGS, "u1"))
        elif cid in COLUMNS:
            fields.append(_unique(fields, *COLUMNS[cid], cid))
        else:
            fields.append((f"unknown column {cid}", _unknown_width(column_ids, row_size)))
    return np.dtype(fields), unknown


def _unique(fields: list[tuple[str, str]], name: str, dtype: str, cid: int) -> tuple[str, str]:
    """Two ids can carry the same export name (e.g. <Ewe>/V); the later one is suffixed."""
    taken = {f[0] for f in fields}
    return (name if name not in taken else f"{name} ({cid})", dtype)


def _unknown_width(column_ids: list[int], row_size: int) -> str:
    known = sum(np.dtype(COLUMNS[cid][1]).itemsize for cid in column_ids if cid in COLUMNS)
    known += 1 if FLAG_IDS.intersection(column_ids) else 0
    width = row_size - known
    if not 1 <= width <= 16:
        raise _damaged(f"points of {row_size} bytes do not fit the known columns")
    return f"V{width}"


def read_data(data: bytes, module: Module) -> tuple[np.ndarray, tuple[int, ...]]:
    layout = _DATA_LAYOUTS.get(module.version)
    if module.version == 0 and not module.long_header:
        raise ParseError(
            "unsupported BioLogic .mpr data module version 0 without the module header of "
            "EC-Lab >= 11.50 (an older layout this reader does not know); export the file to "
            ".mpt from EC-Lab"
        )
    if layout is None:
        known = ", ".join(str(v) for v in sorted(_DATA_LAYOUTS))
        raise ParseError(
            f"unsupported BioLogic .mpr data module version {module.version} "
            f"(this reader knows versions {known}); export the file to .mpt from EC-Lab"
        )
    if module.length < layout.points_at:
        raise _damaged(f"the data module holds {module.length} bytes, fewer than its header")
    start = module.start
    n_points = int.from_bytes(data[start : start + 4], "little")
    n_columns = int(np.frombuffer(data, layout.count_dtype, count=1, offset=start + 4)[0])
    if n_columns == 0 or layout.ids_at + 2 * n_columns > layout.points_at:
        raise _damaged(f"{n_columns} column ids do not fit in the data module header")
    ids = np.frombuffer(data, "<u2", count=n_columns, offset=start + layout.ids_at).tolist()
    body = module.length - layout.points_at
    row_size = body // n_points if n_points and body % n_points == 0 else None
    dtype, skipped = record_dtype(ids, row_size)
    if body != n_points * dtype.itemsize:
        raise _damaged(
            f"the data module announces {n_points} points of {dtype.itemsize} bytes "
            f"({n_points * dtype.itemsize} bytes) but holds {body}"
        )
    records = np.frombuffer(data, dtype, count=n_points, offset=start + layout.points_at)
    return records, skipped


def acquisition_start(data: bytes, modules: tuple[Module, ...]) -> dt.datetime | None:
    log = next((m for m in modules if m.name == LOG_MODULE), None)
    if log is None or log.length < _OLE_DATE_AT + 8:
        return None
    days = float(np.frombuffer(data, "<f8", count=1, offset=log.start + _OLE_DATE_AT)[0])
    # 1980-01-01 .. 2200-01-01: anything else is not a date EC-Lab wrote.
    if not math.isfinite(days) or not 29221 <= days <= 109574:
        return None
    return _OLE_EPOCH + dt.timedelta(milliseconds=round(days * 86_400_000.0))


def read_mpr(data: bytes) -> MprContent:
    """Everything the parser needs from the bytes of an ``.mpr`` file."""
    if not data.startswith(MAGIC):
        raise ParseError("not a BioLogic .mpr file: missing 'BIO-LOGIC MODULAR FILE' signature")
    modules = read_modules(data)
    module = next((m for m in modules if m.name == DATA_MODULE), None)
    if module is None:
        found = "; ".join(str(m) for m in modules)
        raise ParseError(f"BioLogic .mpr file without a data module ('VMP data'); found {found}")
    records, skipped = read_data(data, module)
    return MprContent(modules, records, skipped, acquisition_start(data, modules))
