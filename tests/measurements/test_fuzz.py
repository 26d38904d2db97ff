"""Fuzzing: every parser and analysis entry point answers any input with a result or a
ParseError/AnalysisError (which the worker turns into a failed measurement with the reason),
never a numpy/scipy exception, a hang or an allocation set by a value in the file.

Bounded for CI (60 examples a test, no per-example deadline: an EIS fit may take a second);
the whole file takes about a minute on a 2-core machine.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.synthetic import exports
from demo.synthetic import spectra as syn
from measurements import canonical as c
from measurements import compute
from measurements.analysis import AnalysisError, dqdv, temperature, thinning
from measurements.parsers import parse_file
from tests.measurements.test_parsers import (
    _FUZZ_FILES,
    DETECTED,
    MPT_PEIS,
    assert_parses_or_refuses,
)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: a CI failure can be reproduced
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Values that break naive numerics, mixed with ordinary ones.
NASTY = st.sampled_from(
    [math.nan, math.inf, -math.inf, 1e300, -1e300, 1e-300, -1e-300, 0.0, -1.0, 2e7]
)
VALUES = st.one_of(NASTY, st.floats(-1e3, 1e3, allow_nan=False))


@st.composite
def columns(draw, names: tuple[str, ...], *, max_rows: int = 40):
    """A frame of ``names`` (float64): one row, constant, unsorted, or with nasty values."""
    n = draw(st.integers(1, max_rows))
    shape = draw(st.sampled_from(["random", "constant", "ramp"]))
    out = {}
    for name in names:
        if shape == "constant":
            out[name] = [draw(VALUES)] * n
        elif shape == "ramp":
            # A plausible series with a few values replaced: the edge cases sit in real data.
            base = np.linspace(draw(st.floats(-100, 100)), draw(st.floats(-100, 1000)), n)
            for _ in range(draw(st.integers(0, 3))):
                base[draw(st.integers(0, n - 1))] = draw(NASTY)
            out[name] = base.tolist()
        else:
            out[name] = draw(st.lists(VALUES, min_size=n, max_size=n))
    return pl.DataFrame(out, schema={name: pl.Float64 for name in names})


def _either(call):
    try:
        return call()
    except AnalysisError as exc:
        assert str(exc)
        return None


@FUZZ
@given(data=st.data())
def test_parsers_answer_mutated_real_files_with_data_or_a_parse_error(tmp_path, data):
    source = data.draw(st.sampled_from([*_FUZZ_FILES, TA_TGA]), label="file")
    if source is TA_TGA:  # no TA fixture in tests/data: the demo's TRIOS-style export
        source = exports.write_ta_tga(tmp_path / TA_TGA.name, TGA_CURVE)
    content = bytearray(source.read_bytes())
    if data.draw(st.booleans(), label="truncate"):
        content = content[: data.draw(st.integers(1, len(content)))]
    for _ in range(data.draw(st.integers(0, 12))):
        at = data.draw(st.integers(0, len(content) - 1))
        content[at] = data.draw(st.integers(0, 255))
    path = tmp_path / f"fuzzed{source.suffix}"
    path.write_bytes(bytes(content))
    assert_parses_or_refuses(path, DETECTED.get(source, "tga_trios"))


EIS = (c.FREQUENCY_HZ, c.Z_REAL_OHM, c.Z_IMAG_OHM)
SPECTRUM = parse_file(MPT_PEIS).data  # the real Bio-Logic fixture: 65 ohm, 1 kHz-0.1 Hz
TGA_CURVE = syn.tga_curve(syn.SPE_TGA_STEPS)
TA_TGA = pathlib.Path("spe_tga.txt")


@st.composite
def damaged(draw, frame: pl.DataFrame):
    """A real curve scaled (1e-300..1e300), cut, shuffled, with a few values replaced: it
    reaches the fit itself, where a purely random frame is refused at the door."""
    factor = draw(st.sampled_from([1.0, 1.0, 1.0, 1e-300, 1e-12, 1e12, 1e300, -1.0]))
    column = draw(st.sampled_from(frame.columns))
    out = frame.with_columns(pl.col(column) * factor)
    # Mostly long enough to fit (6 points), sometimes cut to a stub.
    out = out.slice(draw(st.integers(0, frame.height - 1)) if draw(st.booleans()) else 0)
    if draw(st.booleans()):
        out = out.sample(fraction=1.0, shuffle=True, seed=draw(st.integers(0, 9)))
    values = {name: out[name].to_list() for name in out.columns}
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(out.columns))
        values[name][draw(st.integers(0, out.height - 1))] = draw(NASTY)
    return pl.DataFrame(values, schema=out.schema)


@FUZZ
@given(frame=st.one_of(damaged(SPECTRUM), columns(EIS, max_rows=30)))
def test_eis_fit_and_conductivity_answer_any_spectrum(frame):
    inputs = {"thickness_um": 500.0, "area_cm2": 1.0}
    outcome = _either(lambda: compute.compute("eis", [("f", frame)], ["eis"], inputs))
    if outcome is not None:
        assert {r.kind for r in outcome.results} == {"eis_fit", "conductivity"}


CYCLING_FLOATS = (c.TIME_S, c.VOLTAGE_V, c.CURRENT_MA, c.STEP_CAPACITY_MAH)


@st.composite
def cycling_frames(draw):
    frame = draw(columns(CYCLING_FLOATS, max_rows=60))
    n = frame.height
    counters = st.lists(st.integers(-3, 1_000_000), min_size=n, max_size=n)
    return frame.with_columns(
        pl.Series(c.CYCLE, draw(counters), dtype=pl.Int64),
        pl.Series(c.STEP, draw(counters), dtype=pl.Int64),
        pl.lit(None, pl.Float64).alias(c.STEP_ENERGY_MWH),
    ).select(c.CYCLING_COLUMNS)


@FUZZ
@given(frame=cycling_frames(), mass_mg=st.sampled_from([None, 5.0, 1e-300, 1e300]))
def test_cycling_summary_and_stripping_answer_any_frame(frame, mass_mg):
    inputs = {"active_mass_mg": mass_mg, "area_cm2": 1.0}
    _either(lambda: compute.compute("cycling", [("f", frame)], ["cycling"], inputs))
    _either(lambda: compute.compute("stripping", [("f", frame)], ["cycling"], inputs))


@FUZZ
@given(frame=st.one_of(damaged(TGA_CURVE), columns(c.TGA_COLUMNS, max_rows=60)))
def test_tga_answers_any_curve(frame):
    outcome = _either(lambda: compute.compute("tga", [("f", frame)], ["tga"], {}))
    if outcome is not None:
        values = outcome.results[0].values
        assert -150 <= values["final_temperature_C"] <= 2000


@FUZZ
@given(
    capacity=st.lists(VALUES, min_size=0, max_size=50),
    voltage=st.lists(VALUES, min_size=0, max_size=50),
    bin_v=st.sampled_from([0.005, 1e-300, 0.0, -1.0, math.nan, 1e300]),
)
def test_dqdv_answers_any_half_cycle(capacity, voltage, bin_v):
    out = _either(lambda: dqdv.dqdv(np.array(capacity), np.array(voltage), bin_V=bin_v))
    if out is not None:
        assert out[0].size <= dqdv.MAX_BINS + 1


@FUZZ
@given(frame=columns(("x", "y", "g"), max_rows=200), max_points=st.integers(-2, 50))
def test_thinning_answers_any_frame(frame, max_points):
    out = _either(lambda: thinning.thin(frame, x="x", y="y", group="g", max_points=max_points))
    if out is not None:
        assert out.height <= frame.height


@FUZZ
@given(
    temps=st.lists(VALUES, min_size=0, max_size=12),
    sigmas=st.lists(VALUES, min_size=0, max_size=12),
)
def test_temperature_fits_answer_any_series(temps, sigmas):
    _either(lambda: temperature.fit_arrhenius(temps, sigmas))
    _either(lambda: temperature.fit_vft(temps, sigmas))


@FUZZ
@given(frame=columns((c.TWO_THETA_DEG, c.INTENSITY), max_rows=30), empty=st.booleans())
def test_xrd_summary_answers_any_pattern(frame, empty):
    frame = frame.head(0) if empty else frame
    outcome = _either(lambda: compute.compute("xrd", [("f", frame)], ["xrd"], {}))
    if outcome is not None:
        assert outcome.results[0].values["n_points"] == frame.height
