"""Time our BioLogic .mpr reader against galvani on the two real .mpr files of the test data.

Both read the file from disk into numpy records (ours: ``measurements.parsers._mpr.read_mpr``,
galvani: ``BioLogic.MPRfile``); the median of repeated runs is printed for each, with the ratio.
For context, the median of our whole parse (records to canonical polars columns,
``parse_file``) is printed too.
galvani (GPL) is imported here only, as an optional peer for comparison: it is not a
requirement of the project, and without it only our reader is timed.

    .venv/bin/python benchmarks/mpr_read.py [repetitions]
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measurements.parsers import parse_file  # noqa: E402
from measurements.parsers._mpr import read_mpr  # noqa: E402
from tests.instrument_files import instrument_file  # noqa: E402

FILES = (
    instrument_file("cellpy/biol.mpr"),
    instrument_file("navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"),
)


def medians(readers: list[Callable[[Path], object]], path: Path, repetitions: int) -> list[float]:
    """Median wall time of each reader; the readers take turns so that load drifts hit all."""
    for read in readers:
        read(path)  # warm-up: imports, page cache
    times: list[list[float]] = [[] for _ in readers]
    for _ in range(repetitions):
        for read, spent in zip(readers, times, strict=True):
            start = time.perf_counter()
            read(path)
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def ours(path: Path) -> int:
    return len(read_mpr(path.read_bytes()).records)


def ours_parsed(path: Path) -> int:
    return parse_file(path).data.height


def galvani_reader() -> Callable[[Path], object] | None:
    try:
        from galvani import BioLogic
    except ImportError:
        return None

    def read(path: Path) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return len(BioLogic.MPRfile(str(path)).data)

    return read


def main() -> None:
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    peer = galvani_reader()
    if peer is None:
        print("galvani is not installed: timing our reader only (pip install galvani to compare)")
    print(f"BioLogic .mpr read into numpy records, median of {repetitions} runs")
    for path in FILES:
        rows = ours(path)
        size = path.stat().st_size / 1e6
        readers = [ours, ours_parsed] + ([peer] if peer is not None else [])
        mine, parsed, *theirs = medians(readers, path, repetitions)
        line = f"  {path.name[:24]:<24} {rows:>6} rows {size:3.1f} MB  ours {mine * 1e3:6.2f} ms"
        if theirs:
            line += f"  galvani {theirs[0] * 1e3:6.2f} ms  galvani/ours {theirs[0] / mine:4.1f}x"
        print(f"{line}  (our whole parse_file {parsed * 1e3:6.2f} ms)")


if __name__ == "__main__":
    main()
