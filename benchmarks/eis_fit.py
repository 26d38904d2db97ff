"""Time one equivalent-circuit fit (quality bar: under 20 ms).

Fits synthetic spectra shaped like the paper's (LAGP pellet: R0-p(R1,CPE1)-CPE2, 61 points
from 1 MHz to 1 Hz; thin SPE: L-R0-CPE) with 0.5 % noise, a new noise draw per repetition,
and prints the median and 90th percentile wall time per fit.

    .venv/bin/python benchmarks/eis_fit.py [repetitions]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measurements.analysis import eis, synthetic  # noqa: E402

CASES = (
    ("R0-p(R1,CPE1)-CPE2", "R0-p(R1,CPE1)-CPE2", synthetic.LAGP_CIRCUIT),
    ("L-R0-CPE", "L-R0-CPE", synthetic.SPE_CIRCUIT),
    ("auto (LAGP spectrum)", "auto", synthetic.LAGP_CIRCUIT),
    ("auto (SPE spectrum)", "auto", synthetic.SPE_CIRCUIT),
)


def time_fits(model: str, circuit: dict[str, float], repetitions: int) -> list[float]:
    true_model = eis.GRAIN_BOUNDARY if "R1" in circuit else eis.INDUCTIVE
    spectra = [
        synthetic.eis_spectrum(true_model, circuit, seed=seed) for seed in range(repetitions)
    ]
    eis.fit_impedance_frame(spectra[0], model=model)  # warm-up: imports, caches
    times = []
    for df in spectra:
        start = time.perf_counter()
        fit = eis.fit_impedance_frame(df, model=model)
        times.append(time.perf_counter() - start)
        if not fit.converged:
            raise SystemExit(f"{model}: fit did not converge: {fit.message}")
    return times


def main() -> None:
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"EIS fit, {repetitions} repetitions each (61 points, 1 MHz - 1 Hz)")
    for label, model, circuit in CASES:
        times = sorted(time_fits(model, circuit, repetitions))
        median = statistics.median(times) * 1e3
        p90 = times[int(0.9 * (len(times) - 1))] * 1e3
        print(f"  {label:<24} median {median:6.2f} ms   p90 {p90:6.2f} ms")


if __name__ == "__main__":
    main()
