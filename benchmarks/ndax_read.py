"""Time reading the largest real Neware .ndax (252 951 records) with our parser and with navani.

- ours: ``parse_file`` (our numpy reader of the .ndc tables, ``measurements/parsers/neware_ndc``,
  then canonical polars columns), in this venv (pandas 3); also, for comparison, the same parse
  through NewareNDA (the fallback for .ndc layouts our reader does not implement, and how every
  .ndax was read before), with pandas' string inference off as the parser sets it;
- navani: ``navani.echem.echem_file_loader`` (NewareNDA, then navani's own columns), run in
  ``.venv-peers`` through a subprocess in the same benchmark run. navani is a peer used for
  comparison only, never a dependency of the project. Build that venv once with
  ``make bench-peers-venv`` (it installs ``benchmarks/requirements-peers.txt``: navani, cellpy,
  impedance.py, NewareNDA with numpy<2 / pandas<3); without it only ours is timed.

Each reader is warmed up once (imports, page cache), then the median of repeated runs is
printed, with the ratio navani / ours.

    .venv/bin/python benchmarks/ndax_read.py [repetitions]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measurements.parsers import neware_ndc, parse_file  # noqa: E402
from tests.instrument_files import instrument_file  # noqa: E402

NDAX = instrument_file("cellpy/20260302_IFE_BTS85_2_9_8_1.ndax")
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"

# Run by the peers' interpreter: import, warm up, time, print the times as JSON.
NAVANI_TIMER = """
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
import navani.echem as ec
path, repetitions = sys.argv[1], int(sys.argv[2])
rows = len(ec.echem_file_loader(path))
times = []
for _ in range(repetitions):
    start = time.perf_counter()
    ec.echem_file_loader(path)
    times.append(time.perf_counter() - start)
import importlib.metadata, pandas
version = importlib.metadata.version("navani")
print(json.dumps({"rows": rows, "times": times, "navani": version, "pandas": pandas.__version__}))
"""


def _timed(read, repetitions: int) -> list[float]:
    read()  # warm-up
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return times


def _ours() -> int:
    return parse_file(NDAX).data.height


def _ours_through_newarenda() -> int:
    """The same parse with NewareNDA reading the file (the fallback path)."""
    original = neware_ndc.read_ndax
    neware_ndc.read_ndax = _unsupported
    try:
        result = parse_file(NDAX)
        assert result.metadata["reader"].startswith("NewareNDA")
        return result.data.height
    finally:
        neware_ndc.read_ndax = original


def _unsupported(zf, cycle_mode):
    raise neware_ndc.Unsupported("benchmark: NewareNDA path")


def _navani(repetitions: int) -> dict | None:
    if not PEERS_PYTHON.exists():
        return None
    done = subprocess.run(
        [str(PEERS_PYTHON), "-c", NAVANI_TIMER, str(NDAX), str(repetitions)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"navani failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    import pandas as pd

    print(f"{NDAX.name}: {NDAX.stat().st_size / 1e6:.1f} MB, median of {repetitions} runs")
    ours = statistics.median(_timed(_ours, repetitions))
    before = statistics.median(_timed(_ours_through_newarenda, repetitions))
    rows = _ours()
    print(f"  ours, numpy .ndc reader (pandas {pd.__version__}) {rows} rows  {ours:6.3f} s")
    print(
        f"  ours through NewareNDA (fallback, before)        {before:6.3f} s "
        f"({before / ours:.2f}x ours)"
    )
    peer = _navani(repetitions)
    if peer is None:
        print("  navani: .venv-peers missing (make bench-peers-venv): not timed")
        return
    theirs = statistics.median(peer["times"])
    print(
        f"  navani {peer['navani']} (pandas {peer['pandas']}) {peer['rows']} rows  "
        f"{theirs:6.3f} s ({theirs / ours:.2f}x ours)"
    )


if __name__ == "__main__":
    main()
