"""Neware BTS ``.nda`` (the binary format before ``.ndax``), read by ``NewareNDA``.

The file starts with ``NEWARE``; byte 14 is the format version, and NewareNDA reads versions
29 (BTS 7.x) and 130 (BTS 8 and 9). NewareNDA returns the same columns as for ``.ndax``, so
the canonical frame is built the same way (``neware_ndax.canonical``): signed current in mA,
capacity counters that reset at each step, time from the record timestamps.

Known limit: the format carries no record count that NewareNDA exposes, so a file cut short
after its first records reads as a shorter test (NewareNDA stops at the last whole record).
"""

from __future__ import annotations

import pathlib

from ._common import read_head
from .base import ParsedData, ParseError, guard, one_of
from .neware_ndax import canonical, object_strings

_MAGIC = b"NEWARE"
_VERSIONS = {29: "BTS 7", 130: "BTS 8/9"}


def _read(path: pathlib.Path, cycle_mode: str):
    from NewareNDA.NewareNDA import read_nda  # lazy: heavy import, only for .nda

    # read_nda rather than NewareNDA.read: the raw-file store keeps files under their hash,
    # and read() dispatches on the file extension.
    with object_strings():
        return read_nda(str(path), software_cycle_number=True, cycle_mode=cycle_mode)


class NewareNdaParser:
    name = "neware_nda"
    label = "Neware BTS (.nda)"
    extensions = (".nda",)
    accepted_options = {"cycle_mode": one_of("chg", "dchg", "auto")}

    def sniff(self, head: bytes, filename: str) -> bool:
        return head.startswith(_MAGIC)

    @guard("Neware .nda")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        head = read_head(path, 64)
        if not head:
            raise ParseError("empty file: no Neware data")
        if not head.startswith(_MAGIC):
            raise ParseError("not a Neware .nda file: it does not start with 'NEWARE'")
        if len(head) < 15:
            raise ParseError("not a complete Neware .nda file: it ends inside its header")
        version = head[14]
        if version not in _VERSIONS:
            raise ParseError(
                f"Neware .nda format version {version} cannot be read (versions read: "
                f"{', '.join(f'{v} ({n})' for v, n in _VERSIONS.items())}); export the test "
                "from BTSDA as .ndax or as text"
            )
        cycle_mode = (options or {}).get("cycle_mode", "chg")
        result = canonical(_read(path, cycle_mode), self.label, cycle_mode)
        result.metadata["nda_version"] = version
        return result


PARSER = NewareNdaParser()
