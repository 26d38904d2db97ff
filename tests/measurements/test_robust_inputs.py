"""Values in a file that once made a worker allocate gigabytes, hang or end "done" with
nonsense: each now fails the measurement with the reason, quickly."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.uploadedfile import SimpleUploadedFile

from demo.synthetic import exports
from demo.synthetic import spectra as syn
from measurements import compute, services, tasks
from measurements.analysis import AnalysisError, eis, tga
from measurements.parsers import ParseError, parse_file
from tests import factories
from tests.instrument_files import ROOT as INSTRUMENT_FILES

MPT_PEIS = INSTRUMENT_FILES / "impedance.py/exampleDataBioLogic.mpt"


def _spe_curve_with_row(row: int, temperature_c: float) -> pl.DataFrame:
    curve = syn.tga_curve(syn.SPE_TGA_STEPS)
    temps = curve["temperature_C"].to_list()
    temps[row] = temperature_c
    return curve.with_columns(pl.Series("temperature_C", temps))


def test_a_tga_row_at_2e7_c_is_refused_naming_the_row_not_gridded():
    # Before: np.arange(30, 2e7, 1 K) = 20 million points (1.1 GB) and a "done" result.
    curve = _spe_curve_with_row(100, 2e7)
    with pytest.raises(AnalysisError, match=r"temperature_C \(C\) = 2e\+07 in row 101 is outside"):
        tga.analyse(curve)


def test_a_tga_mass_of_50_times_the_first_row_is_refused():
    curve = syn.tga_curve(syn.SPE_TGA_STEPS)
    pct = curve["mass_pct"].to_list()
    pct[7] = 5000.0  # 50x the first row (100.0002 % with the curve's noise: 4999.99 %)
    with pytest.raises(AnalysisError, match=r"mass_pct \(% of the first row\) = 4999.99 in row 8"):
        tga.analyse(curve.with_columns(pl.Series("mass_pct", pct)))


def test_a_tga_curve_at_the_temperature_bounds_still_analyses():
    # 1600 C (a furnace's top) is a real temperature: the bound must not refuse it.
    curve = syn.tga_curve(syn.LAGP_TGA_STEPS, end_c=1600.0)
    result = tga.analyse(curve)
    assert result.final_temperature_C == pytest.approx(1600, abs=1)
    assert tga.MAX_GRID_POINTS == 2151  # -150..2000 C at 1 K: the largest grid a file can ask


def _scaled_spectrum(factor: float) -> pl.DataFrame:
    data = parse_file(MPT_PEIS).data
    return data.with_columns(pl.col("z_real_ohm") * factor, pl.col("z_imag_ohm") * factor)


def test_a_spectrum_near_1e_300_ohm_fails_at_once_naming_the_point():
    frame = _scaled_spectrum(1e-300)  # the real Bio-Logic fixture, 65.5 ohm -> 6.55e-299
    start = time.monotonic()
    with pytest.raises(AnalysisError, match=r"\|Z\| = 6.55e-299 ohm at 1000.32 Hz \(row 1\)"):
        compute.compute("eis", [("x.mpt", frame)], ["eis"], {"thickness_um": 500, "area_cm2": 1})
    assert time.monotonic() - start < 3


def test_the_fit_breaking_down_on_every_start_is_an_analysis_error(monkeypatch):
    # The 1e-300 spectrum used to reach scipy and raise "array must not contain infs or NaNs"
    # from inside least_squares; a start that breaks down is now skipped, all of them an error.
    monkeypatch.setattr(eis, "Z_RANGE_OHM", (0.0, float("inf")))
    frame = _scaled_spectrum(1e-300)
    start = time.monotonic()
    with pytest.raises(AnalysisError, match="fit failed from all"):
        eis.fit_impedance_frame(frame, model=eis.GRAIN_BOUNDARY)
    assert time.monotonic() - start < 10


def test_the_multi_start_search_stops_at_its_wall_time_budget(monkeypatch):
    monkeypatch.setattr(eis, "FIT_BUDGET_S", 0.0)
    fit = eis.fit_impedance_frame(parse_file(MPT_PEIS).data, model=eis.GRAIN_BOUNDARY)
    assert fit.starts == 1  # stopped after the first start, with that start's fit


def test_measurement_tasks_carry_the_configured_time_limit(settings):
    assert settings.LIMS_TASK_TIME_LIMIT_S == 600
    for task in (tasks.process_measurement, tasks.update_temperature_series):
        assert (task.soft_time_limit, task.time_limit) == (600, 630)


def _tga_measurement(tmp_path, curve: pl.DataFrame, capture):
    """A TGA measurement of a fresh SPE membrane from ``curve`` (a TA export), processed."""
    path = exports.write_ta_tga(tmp_path / "spe_tga.txt", curve)
    with capture(execute=True):
        m = services.measurement_create(
            item=factories.spe_membrane(),
            fields={"technique": "tga"},
            uploads=[SimpleUploadedFile(path.name, Path(path).read_bytes())],
        )
    m.refresh_from_db()
    return m


def test_a_task_over_its_time_limit_fails_the_measurement_naming_the_limit(
    db, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    def too_slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(compute, "compute", too_slow)
    curve = syn.tga_curve(syn.SPE_TGA_STEPS)
    m = _tga_measurement(tmp_path, curve, django_capture_on_commit_callbacks)
    assert m.status == "failed"
    assert m.status_detail == (
        "processing took longer than the 600 s limit (LIMS_TASK_TIME_LIMIT_S) and was stopped"
    )


def test_a_tga_upload_with_a_row_at_2e7_c_ends_failed_with_the_row(
    db, tmp_path, django_capture_on_commit_callbacks
):
    curve = _spe_curve_with_row(100, 2e7)
    m = _tga_measurement(tmp_path, curve, django_capture_on_commit_callbacks)
    assert m.status == "failed"
    assert "= 2e+07 in row 101 is outside -150 to 2000" in m.status_detail


def test_a_frequency_near_1e_300_hz_is_refused_naming_the_row():
    # Found by the fuzz test: the Lin-KK time constants 1/omega overflowed to inf and
    # math.ceil raised OverflowError out of the analysis.
    frame = parse_file(MPT_PEIS).data
    frame = frame.with_columns(pl.col("frequency_Hz") * 1e-300)
    with pytest.raises(AnalysisError, match=r"frequency 1e-297 Hz in row 1 is outside 1e-07"):
        eis.fit_impedance_frame(frame)


def test_an_ndax_member_larger_than_the_cap_is_refused_before_decompressing(monkeypatch):
    from measurements.parsers import neware_ndc

    # The real 2.9 MB fixture's data.ndc, against a cap of 1 MB: the declared size decides.
    monkeypatch.setattr(neware_ndc, "MAX_MEMBER_BYTES", 1 << 20)
    with pytest.raises(ParseError, match=r"data.ndc claims 0.\d GiB uncompressed"):
        parse_file(INSTRUMENT_FILES / "cellpy/20260302_IFE_BTS85_2_9_8_1.ndax")


def test_an_xrd_pattern_with_a_nan_row_reports_its_real_strongest_peak():
    frame = pl.DataFrame(
        {
            "two_theta_deg": [10.0, 20.0, 30.0, float("nan")],
            "intensity": [5.0, float("nan"), 100.0, 7.0],
        }
    )
    values = compute.compute("xrd", [("p.xy", frame)], ["xrd"], {}).results[0].values
    assert values["strongest_peak_two_theta_deg"] == 30.0
    assert (values["two_theta_min_deg"], values["two_theta_max_deg"]) == (10.0, 30.0)
    assert values["n_points"] == 4
    with pytest.raises(AnalysisError, match="XRD needs at least 1 rows, got 0"):
        compute.compute("xrd", [("p.xy", frame.head(0))], ["xrd"], {})


def test_dqdv_refuses_a_voltage_near_1e300_and_a_bin_of_1e_300_v():
    # Found by the fuzz test: [1e300, 1e300] V made an empty grid (IndexError), a 1e-300 V bin
    # an infinite bin count (OverflowError).
    from measurements.analysis import dqdv

    with pytest.raises(AnalysisError, match=r"voltage 1e\+300 V at point 1 is outside -1000"):
        dqdv.dqdv(np.array([0.0, 1.0]), np.array([1e300, 1e300]))
    with pytest.raises(AnalysisError, match="bin_V must be 1e-06 to 1 V"):
        dqdv.dqdv(np.array([0.0, 1.0]), np.array([3.0, 4.2]), bin_V=1e-300)
    grid, density = dqdv.dqdv(np.array([0.0, 1.2]), np.array([3.0, 4.2]), bin_V=0.01, smooth_V=0)
    # 1.2 mAh spread evenly over 1.2 V: 1 mAh/V in every bin the segment covers.
    assert density[(grid > 3.05) & (grid < 4.15)] == pytest.approx(1.0)


def test_a_task_stuck_past_the_limit_is_stopped_even_in_the_solo_pool(
    db, tmp_path, monkeypatch, settings, django_capture_on_commit_callbacks
):
    # `make run` starts a solo-pool worker, where Celery ignores time_limit: the task's own
    # alarm stops a computation that never returns (here one that sleeps 30 s) after 1 s.
    settings.LIMS_TASK_TIME_LIMIT_S = 1
    monkeypatch.setattr(compute, "compute", lambda *a, **k: time.sleep(30))
    start = time.monotonic()
    m = _tga_measurement(
        tmp_path, syn.tga_curve(syn.SPE_TGA_STEPS), django_capture_on_commit_callbacks
    )
    assert time.monotonic() - start < 10
    assert (m.status, m.status_detail) == (
        "failed",
        "processing took longer than the 1 s limit (LIMS_TASK_TIME_LIMIT_S) and was stopped",
    )
