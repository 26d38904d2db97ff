"""Upload -> parse -> compute -> results, run in-process (the worker's path is in
tests/integration). Files are written in real instrument formats from data built with the
paper's numbers, so the expectations are the paper's."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from demo.synthetic import exports
from demo.synthetic import spectra as syn
from demo.synthetic.files import write_maccor_cycling
from measurements import services
from measurements.analysis import eis
from measurements.models import CycleRow, Measurement, RawFile, Result, TemperatureSeries
from synthesis.services import pellets_measure
from tests import factories
from tests import store as test_store
from tests.instrument_files import ROOT as INSTRUMENT_FILES

SHARED = INSTRUMENT_FILES
MPT = SHARED / "impedance.py" / "exampleDataBioLogic.mpt"
# Electrode area that turns 329.2 ohm through a 0.6 mm pellet into the paper's 3.25e-4 S/cm.
LAGP_AREA_CM2 = 0.06 / (329.2 * 3.25e-4)


def upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def measure(item, technique, files, capture, **fields) -> Measurement:
    with capture(execute=True):
        m = services.measurement_create(
            item=item, fields={"technique": technique, **fields}, uploads=files
        )
    m.refresh_from_db()
    return m


def result(m, kind) -> dict:
    return Result.objects.get(measurement=m, kind=kind).values


@pytest.fixture
def pellet(db):
    p = factories.pellets(count=1)[0]
    pellets_measure({p: {"thickness_mm": 0.6, "diameter_mm": 12.9, "mass_mg": 250}})
    return p


def test_lagp_spectrum_of_329_ohm_gives_3_25e_4_s_cm(
    pellet, tmp_path, django_capture_on_commit_callbacks
):
    spectrum = syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT, seed=1)
    # Exported on a German Windows PC: decimal comma, cp1252.
    path = exports.write_mpt_eis(tmp_path / "PEL_900C_PEIS.mpt", spectrum, decimal_comma=True)
    m = measure(
        pellet,
        "eis",
        [upload(path)],
        django_capture_on_commit_callbacks,
        area_cm2=LAGP_AREA_CM2,
        temperature_c=25,
    )
    assert m.status == "done", m.status_detail
    sigma = result(m, "conductivity")
    assert f"{sigma['conductivity_s_cm']:.2e}" == "3.25e-04"
    assert sigma["resistance_ohm"] == pytest.approx(329.2, rel=0.01)
    fit = Result.objects.get(measurement=m, kind="eis_fit")
    assert fit.values["model"] == eis.GRAIN_BOUNDARY
    assert fit.values["parameters"]["R0"]["stderr"] > 0
    conductivity = Result.objects.get(measurement=m, kind="conductivity")
    assert conductivity.inputs == {
        "thickness_um": 600.0,
        "area_cm2": LAGP_AREA_CM2,
        "temperature_c": 25,
    }
    assert conductivity.algorithm_version == eis.ALGORITHM_VERSION
    assert m.files.get().parsed_rows == spectrum.height


def test_spe_spectrum_with_lead_inductance_gives_1_25e_3_s_cm(
    db, tmp_path, django_capture_on_commit_callbacks
):
    membrane = factories.spe_membrane(thickness_um=20)
    spectrum = syn.eis_spectrum(eis.INDUCTIVE, syn.SPE_CIRCUIT, seed=2)
    path = exports.write_mpt_eis(tmp_path / "spe.mpt", spectrum)
    m = measure(membrane, "eis", [upload(path)], django_capture_on_commit_callbacks, area_cm2=1.0)
    values = result(m, "conductivity")
    assert values["model"] == eis.INDUCTIVE
    assert values["conductivity_s_cm"] == pytest.approx(1.25e-3, rel=0.01)


def test_changing_the_pellet_thickness_recomputes_its_conductivity(
    pellet, tmp_path, django_capture_on_commit_callbacks
):
    path = exports.write_mpt_eis(
        tmp_path / "a.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT)
    )
    m = measure(
        pellet, "eis", [upload(path)], django_capture_on_commit_callbacks, area_cm2=LAGP_AREA_CM2
    )
    before = result(m, "conductivity")["conductivity_s_cm"]
    with django_capture_on_commit_callbacks(execute=True):
        pellets_measure({pellet: {"thickness_mm": 0.3}})
    after = Result.objects.get(measurement=m, kind="conductivity")
    assert after.values["conductivity_s_cm"] == pytest.approx(before / 2, rel=1e-6)
    assert after.inputs["thickness_um"] == 300.0


def test_the_same_bytes_uploaded_twice_are_stored_once(
    pellet, tmp_path, django_capture_on_commit_callbacks
):
    path = exports.write_mpt_eis(
        tmp_path / "a.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT)
    )
    first = measure(pellet, "eis", [upload(path)], django_capture_on_commit_callbacks)
    second = measure(
        pellet, "eis", [upload(path, "renamed.mpt")], django_capture_on_commit_callbacks
    )
    assert RawFile.objects.count() == 1
    assert first.files.get().raw_file == second.files.get().raw_file
    assert second.files.get().filename == "renamed.mpt"
    assert test_store.stored(RawFile.objects.get().sha256) == path.read_bytes()


def test_a_truncated_file_fails_with_the_line_and_keeps_the_raw_bytes(
    pellet, django_capture_on_commit_callbacks
):
    # Real Maccor export (jepegit/cellpy testdata, MIT), cut in the middle of a line.
    data = (SHARED / "cellpy" / "maccor_three.txt").read_bytes()
    cut = data[: data.index(b"\n", len(data) // 2) + 20]
    m = measure(
        pellet,
        "cycling",
        [SimpleUploadedFile("cut.txt", cut)],
        django_capture_on_commit_callbacks,
        active_mass_mg=3.0,
    )
    assert m.status == "failed"
    assert m.status_detail.startswith("cut.txt: line ")
    assert "expected 13 columns" in m.status_detail
    assert test_store.stored(m.files.get().raw_file.sha256) == cut
    assert not Result.objects.filter(measurement=m).exists()


def test_an_unknown_format_is_a_clear_failure(pellet, django_capture_on_commit_callbacks):
    m = measure(
        pellet,
        "eis",
        [SimpleUploadedFile("notes.txt", b"hello\nworld\n")],
        django_capture_on_commit_callbacks,
    )
    assert m.status == "failed" and "unrecognised file format" in m.status_detail


def test_an_unexpected_error_fails_the_measurement_with_a_reason_not_processing_forever(
    pellet, monkeypatch, django_capture_on_commit_callbacks
):
    """A defect of ours (here a KeyError deep in the pipeline; in the chaos benchmark two
    workers racing on one Parquet temp file) must not leave "processing" for good."""

    def broken(measurement, run):
        raise KeyError("voltage_V")

    monkeypatch.setattr(services, "_run_pipeline", broken)
    m = measure(
        pellet,
        "eis",
        [SimpleUploadedFile(MPT.name, MPT.read_bytes())],
        django_capture_on_commit_callbacks,
    )
    assert m.status == "failed"
    assert m.status_detail.startswith("internal error while processing (KeyError); the raw")
    assert test_store.stored(m.files.get().raw_file.sha256) == MPT.read_bytes()


def test_a_store_that_does_not_answer_is_retried_not_failed(pellet, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    m = services.measurement_create(item=pellet, fields={"technique": "eis"})

    def unreachable(measurement, run):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    monkeypatch.setattr(services, "_run_pipeline", unreachable)
    with pytest.raises(EndpointConnectionError):
        services.process_measurement(m.pk, m.run)
    m.refresh_from_db()
    assert m.status == "processing"  # left for the retry / the reconciler's lease


def test_eis_at_four_temperatures_gives_the_arrhenius_activation_energy(
    pellet, tmp_path, django_capture_on_commit_callbacks
):
    temperatures = [25.0, 40.0, 60.0, 80.0]
    _, sigmas = syn.arrhenius_series(temperatures, ea_ev=0.36)
    for t, sigma in zip(temperatures, sigmas, strict=True):
        resistance = 0.06 / (sigma * LAGP_AREA_CM2)
        scale = resistance / 329.2
        params = {**syn.LAGP_CIRCUIT, "R0": 200.0 * scale, "R1": 129.2 * scale}
        path = exports.write_mpt_eis(
            tmp_path / f"{t:g}C.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, params, seed=int(t))
        )
        measure(
            pellet,
            "eis",
            [upload(path)],
            django_capture_on_commit_callbacks,
            area_cm2=LAGP_AREA_CM2,
            temperature_c=t,
        )
    series = Result.objects.get(item=pellet, measurement=None, kind="arrhenius")
    assert series.values["activation_energy_eV"] == pytest.approx(0.36, abs=0.005)
    assert series.values["form"] == "sigma"
    assert Result.objects.filter(item=pellet, kind="arrhenius_sigma_t").exists()
    assert series.inputs["temperatures_c"] == temperatures
    # Arrhenius data: a VFT fit would put T0 near 0 K and only restate Ea, so none is stored.
    assert not Result.objects.filter(item=pellet, kind="vft").exists()
    # The series' state: one computation per finished measurement, the last one done.
    state = TemperatureSeries.objects.get(item=pellet)
    assert state.status == "done" and state.run == 4 and state.warnings == []
    assert [p["why"] for p in state.points] == ["included"] * 4


def test_a_400_cycle_full_cell_gives_the_papers_capacities_and_retention(
    db, tmp_path, django_capture_on_commit_callbacks
):
    cell = factories.full_cell()
    path = write_maccor_cycling(
        tmp_path / "full.txt", n_cycles=400, rows_per_cycle=60, active_mass_mg=cell.active_mass_mg
    )
    m = measure(cell, "cycling", [upload(path)], django_capture_on_commit_callbacks)
    assert m.status == "done", m.status_detail
    summary = result(m, "cycling_summary")
    assert summary["first_charge_mAh_g"] == pytest.approx(217, abs=0.5)
    assert summary["first_discharge_mAh_g"] == pytest.approx(199, abs=0.5)
    assert summary["retention_pct"] == pytest.approx(82.7, abs=0.1)
    assert CycleRow.objects.filter(measurement=m).count() == 400
    assert CycleRow.objects.filter(measurement=m).first().cycle == 1


def test_a_symmetric_cell_that_shorts_at_195_h_is_reported_shorted(
    db, tmp_path, django_capture_on_commit_callbacks
):
    li = factories.reagent_lot("Lithium foil", "Li", "Li")
    cell = factories.symmetric_cell(li=li)
    trace = syn.stripping_trace(
        syn.PAPER_STRIPPING_PROFILES["Li|ILE/LAGP/ILE|Li"], duration_h=260, points_per_hour=20
    )
    path = exports.write_mpt_galvanostatic(tmp_path / "strip.mpt", trace)
    m = measure(cell, "stripping", [upload(path)], django_capture_on_commit_callbacks)
    values = result(m, "stripping")
    assert values["short_circuit_time_h"] == pytest.approx(195, abs=2)
    assert values["initial_overpotential_V"] < 0.02


def test_tga_of_the_spe_gives_its_onset(db, tmp_path, django_capture_on_commit_callbacks):
    membrane = factories.spe_membrane()
    path = exports.write_ta_tga(tmp_path / "spe_tga.txt", syn.tga_curve(syn.SPE_TGA_STEPS))
    m = measure(membrane, "tga", [upload(path)], django_capture_on_commit_callbacks)
    assert result(m, "tga")["onset_C"] == pytest.approx(215, abs=3)


def test_a_stale_run_writes_nothing(pellet, tmp_path, django_capture_on_commit_callbacks):
    path = exports.write_mpt_eis(
        tmp_path / "a.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT)
    )
    m = measure(pellet, "eis", [upload(path)], django_capture_on_commit_callbacks)
    old_run = m.run
    services.measurement_reprocess(m)  # a newer run is requested (its task not yet delivered)
    assert services.process_measurement(m.pk, old_run) == "stale"
    m.refresh_from_db()
    assert m.status == "queued"


def test_an_upload_over_the_limit_is_refused_before_storing(pellet, monkeypatch):
    monkeypatch.setattr(services, "MAX_UPLOAD_BYTES", 1000)
    big = io.BytesIO(b"x" * 5000)
    big.name = "big.txt"
    with pytest.raises(services.storage.TooLarge, match="^big.txt: file is larger than the 0 MB"):
        services.raw_file_store(big, filename="big.txt")
    assert not RawFile.objects.exists()


def test_correcting_a_disk_loading_recomputes_the_cells_cycling_results(
    db, tmp_path, django_capture_on_commit_callbacks
):
    from synthesis.services import electrode_disk_update

    disk = factories.cathode_disks(count=1, loading=2.7)[0]
    cell = factories.full_cell(disk=disk)
    path = write_maccor_cycling(
        tmp_path / "c.txt", n_cycles=20, rows_per_cycle=40, active_mass_mg=cell.active_mass_mg
    )
    m = measure(cell, "cycling", [upload(path)], django_capture_on_commit_callbacks)
    assert result(m, "cycling_summary")["first_discharge_mAh_g"] == pytest.approx(199, abs=0.5)
    with django_capture_on_commit_callbacks(execute=True):
        electrode_disk_update(disk, fields={"active_loading_mg_cm2": 5.4})  # twice the mass
    summary = Result.objects.get(measurement=m, kind="cycling_summary")
    assert summary.values["first_discharge_mAh_g"] == pytest.approx(199 / 2, abs=0.5)
    assert summary.inputs["active_mass_mg"] == pytest.approx(2 * 3.0536, abs=1e-3)


def test_a_file_whose_cycle_counter_never_advances_says_how_cycles_were_found(
    pellet, staff_client, django_capture_on_commit_callbacks
):
    # Real Maccor export (jepegit/cellpy testdata, MIT): Cyc# is 0 over five discharges and
    # four charges (tests/measurements/test_cycle_rule.py counts them by hand).
    m = measure(
        pellet,
        "cycling",
        [upload(SHARED / "cellpy" / "maccor_001.txt")],
        django_capture_on_commit_callbacks,
        active_mass_mg=25000.0,  # a 4.5 Ah M50 cell: about 180 mAh/g
    )
    # The test starts with a discharge: cycle 1 has no charge, which is said, nothing else.
    assert m.status == "done_with_warnings", m.status_detail
    codes = {w["code"] for r in Result.objects.filter(measurement=m) for w in r.warnings}
    assert codes == {"first_cycle_incomplete"}, m.status_detail
    rule = "from current direction: a cycle is a charge followed by a discharge"
    summary = Result.objects.get(measurement=m, kind="cycling_summary")
    assert summary.values["n_cycles"] == 5
    assert summary.values["cycle_rule"].startswith(rule)
    assert summary.inputs["cycle_rule"] == summary.values["cycle_rule"]
    assert m.files.get().metadata["cycle_rule"] == summary.values["cycle_rule"]
    page = staff_client.get(f"/measurements/{m.code}/").content.decode()
    assert "the instrument&#x27;s cycle counter never advances" in page


def test_a_biologic_mpr_without_current_column_is_processed(
    pellet, django_capture_on_commit_callbacks
):
    # navani's GCPL .mpr (the-grey-group/navani, MIT): no I/mA; the current is derived.
    m = measure(
        pellet,
        "cycling",
        [upload(SHARED / "navani" / "jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr")],
        django_capture_on_commit_callbacks,
        active_mass_mg=7.0,  # about 0.95 mAh of NaCoO2: about 135 mAh/g
    )
    assert m.status == "done_with_warnings", m.status_detail
    codes = {w["code"] for r in Result.objects.filter(measurement=m) for w in r.warnings}
    assert codes == {"first_cycle_incomplete"}, m.status_detail
    assert CycleRow.objects.filter(measurement=m).count() == 7
    assert result(m, "cycling_summary")["cycle_rule"] == "instrument counter"


def test_a_sweep_cut_short_makes_the_measurement_doubtful(
    pellet, django_capture_on_commit_callbacks
):
    # impedance.py's ZPlot example announces 56 points but holds 21: its arc never closes.
    m = measure(
        pellet,
        "eis",
        [upload(SHARED / "impedance.py" / "exampleDataZPlot.z")],
        django_capture_on_commit_callbacks,
        eis_model="R0-p(R1,CPE1)-CPE2",
    )
    assert m.status == "done_with_warnings", m.status_detail
    [doubt] = [
        w
        for r in Result.objects.filter(measurement=m)
        for w in r.warnings
        if w["code"] == "file_doubt"
    ]
    assert doubt["message"] == (
        "exampleDataZPlot.z: header announces 56 data points, file has 21 (sweep stopped early?)."
    )
    assert m.files.get().metadata["doubts"] == [doubt["message"][20:-1]]
    # Re-processing reads the cached Parquet and still knows the doubt.
    with django_capture_on_commit_callbacks(execute=True):
        services.measurement_reprocess(m)
    m.refresh_from_db()
    assert m.status == "done_with_warnings"
