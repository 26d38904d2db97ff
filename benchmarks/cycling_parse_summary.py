"""Worker time to parse a 1.5-million-row, 400-cycle Maccor export and summarise it per cycle.

    .venv/bin/python benchmarks/cycling_parse_summary.py [--repeat 5]

Writes the synthetic export once (var/bench/maccor_1p5M.txt, ~165 MB), then times the same
two steps the worker runs: `parsers.parse_file` (polars) and `compute.compute_cycling`
(per-cycle table, summary, rate table). Prints medians and the peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.synthetic.files import write_maccor_cycling  # noqa: E402
from measurements import compute, parsers  # noqa: E402

ACTIVE_MASS_MG = 3.054


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = ROOT / "var" / "bench" / "maccor_1p5M.txt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        write_maccor_cycling(path, n_cycles=400, rows_per_cycle=3750, active_mass_mg=ACTIVE_MASS_MG)
        print(f"wrote {path} in {time.perf_counter() - start:.1f} s")
    size_mb = path.stat().st_size / 1e6
    parse_s, summary_s, total_s = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        parsed = parsers.parse_file(path)
        t1 = time.perf_counter()
        outcome = compute.compute_cycling(parsed.data, {"active_mass_mg": ACTIVE_MASS_MG})
        t2 = time.perf_counter()
        parse_s.append(t1 - t0)
        summary_s.append(t2 - t1)
        total_s.append(t2 - t0)
    summary = outcome.results[0].values
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"file: {size_mb:.0f} MB, {parsed.data.height:,} rows, "
        f"{outcome.per_cycle.height} cycles ({summary['first_charge_mAh_g']:.1f} / "
        f"{summary['first_discharge_mAh_g']:.1f} mAh/g, retention {summary['retention_pct']:.1f} %)"
    )
    print(
        f"parse     median {statistics.median(parse_s):.3f} s "
        f"({size_mb / statistics.median(parse_s):.0f} MB/s)"
    )
    print(f"summarise median {statistics.median(summary_s):.3f} s")
    print(
        f"total     median {statistics.median(total_s):.3f} s  (min {min(total_s):.3f}, "
        f"max {max(total_s):.3f}, n={args.repeat})"
    )
    print(f"peak RSS  {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
