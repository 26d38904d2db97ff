"""Results carry their quality through the pipeline: real instrument files (origins and
licences in tests/data/instrument-files/INDEX.md) end as "done, with warnings" with the reason,
or as "needs input" naming the missing field, and are computed once it is set."""

from __future__ import annotations

import math

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from demo.synthetic.files import write_maccor_cycling
from measurements import services
from measurements.models import CycleRow, Measurement, Result, TemperatureSeries
from synthesis.services import pellets_measure
from tests import factories
from tests.instrument_files import instrument_file


def upload(relative: str) -> SimpleUploadedFile:
    path = instrument_file(relative)
    return SimpleUploadedFile(path.name, path.read_bytes())


def measure(item, technique, files, capture, **fields) -> Measurement:
    with capture(execute=True):
        m = services.measurement_create(
            item=item, fields={"technique": technique, **fields}, uploads=files
        )
    m.refresh_from_db()
    return m


def codes(result: Result) -> list[str]:
    return [w["code"] for w in result.warnings]


# --- done, with warnings ----------------------------------------------------------------------


@pytest.fixture
def maccor_on_demo_cell(db, django_capture_on_commit_callbacks):
    """The real ~0.9 Ah Maccor cell given the demo cell (one 12 mm NCM811 disk, 3.05 mg)."""
    cell = factories.full_cell()
    m = measure(
        cell,
        "cycling",
        [upload("cellpy/maccor_three.txt")],
        django_capture_on_commit_callbacks,
        instrument="maccor_4300",
    )
    return cell, m


def test_real_maccor_file_on_the_demo_cell_is_done_with_warnings_saying_why(maccor_on_demo_cell):
    cell, m = maccor_on_demo_cell
    assert m.status == "done_with_warnings", m.status_detail
    summary = Result.objects.get(measurement=m, kind="cycling_summary")
    # The number is still shown as computed: 906.112 mAh (the file's counter) / 3.054 mg.
    assert summary.values["first_charge_mAh_g"] == pytest.approx(
        906.112 / cell.active_mass_mg * 1e3
    )
    assert summary.inputs["active_material"] == "NCM811"  # from the disk's coating's lot
    assert summary.inputs["capacity_limit_mAh_g"] == 275.0
    assert codes(summary) == ["first_cycle_capacity_unphysical", "capacity_above_theoretical"]
    assert "2.97e+05 mAh/g (cycle 1)" in summary.warnings[0]["message"]
    assert "NCM811's theoretical capacity of 275 mAh/g" in summary.warnings[0]["message"]
    rates = Result.objects.get(measurement=m, kind="rate_table")
    assert codes(rates) == ["c_rate_implausible"]
    assert "1500C (cycle 1)" in rates.warnings[0]["message"]
    assert m.status_detail.startswith("3 warnings: ")
    assert "1500C" in m.status_detail


def test_a_plausible_cycling_test_stays_done(db, tmp_path, django_capture_on_commit_callbacks):
    cell = factories.full_cell()
    path = write_maccor_cycling(
        tmp_path / "c.txt", n_cycles=20, rows_per_cycle=40, active_mass_mg=cell.active_mass_mg
    )
    m = measure(
        cell,
        "cycling",
        [SimpleUploadedFile("c.txt", path.read_bytes())],
        django_capture_on_commit_callbacks,
    )
    assert m.status == "done" and m.status_detail == ""
    assert all(r.warnings == [] for r in m.results.all())


def test_conductivity_above_0_1_s_cm_is_done_with_warnings(db, django_capture_on_commit_callbacks):
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6}})
    # impedance.py's dummy circuit (~76 ohm) with a sputtered spot's area typed as 0.005 cm².
    m = measure(
        pellet,
        "eis",
        [upload("impedance.py/Circuit1_EIS_1.z")],
        django_capture_on_commit_callbacks,
        area_cm2=0.005,
    )
    assert m.status == "done_with_warnings", m.status_detail
    sigma = Result.objects.get(measurement=m, kind="conductivity")
    assert sigma.values["conductivity_s_cm"] == pytest.approx(
        0.06 / (sigma.values["resistance_ohm"] * 0.005)
    )
    assert codes(sigma) == ["conductivity_implausible"]
    assert "above 0.1 S/cm" in m.status_detail


def test_the_api_shows_warnings_and_filters_by_status(
    api, maccor_on_demo_cell, tmp_path, django_capture_on_commit_callbacks
):
    cell, flagged = maccor_on_demo_cell
    path = write_maccor_cycling(
        tmp_path / "c.txt", n_cycles=5, rows_per_cycle=40, active_mass_mg=cell.active_mass_mg
    )
    fine = measure(
        cell,
        "cycling",
        [SimpleUploadedFile("c.txt", path.read_bytes())],
        django_capture_on_commit_callbacks,
    )
    body = api.get(f"/api/measurements/{flagged.code}/").json()
    assert body["status"] == "done_with_warnings"
    assert [(w["result"], w["code"]) for w in body["warnings"]] == [
        ("cycling_summary", "first_cycle_capacity_unphysical"),
        ("cycling_summary", "capacity_above_theoretical"),
        ("rate_table", "c_rate_implausible"),
    ]
    per_result = {r["kind"]: r["warnings"] for r in body["results"]}
    assert per_result["rate_table"][0]["parameter"] == "active_mass_mg"
    assert api.get(f"/api/measurements/{fine.code}/").json()["warnings"] == []
    status = api.get(f"/api/measurements/{flagged.code}/status/").json()
    assert status["status"] == "done_with_warnings" and len(status["warnings"]) == 3
    listed = api.get("/api/measurements/?status=done_with_warnings").json()["results"]
    assert [row["code"] for row in listed] == [flagged.code]
    listed = api.get("/api/measurements/?status=done").json()["results"]
    assert [row["code"] for row in listed] == [fine.code]
    result_rows = api.get(f"/api/results/?measurement={flagged.code}&kind=rate_table").json()
    assert result_rows["results"][0]["warnings"][0]["code"] == "c_rate_implausible"
    # The cell's lineage-table row shows the newest summary's numbers, and its warnings (none).
    table = api.get("/api/lineage-table/").json()["results"]
    [row] = [r for r in table if r["code"] == cell.code]
    assert row["result_warnings"] == ""


def test_the_lineage_table_row_says_when_its_numbers_have_warnings(api, maccor_on_demo_cell):
    cell, _ = maccor_on_demo_cell
    table = api.get("/api/lineage-table/").json()["results"]
    [row] = [r for r in table if r["code"] == cell.code]
    assert row["first_charge_mAh_g"] > 2.9e5
    assert row["result_warnings"] == (
        "cycling_summary: first_cycle_capacity_unphysical; "
        "cycling_summary: capacity_above_theoretical"
    )


def test_web_lists_show_doubtful_measurements_first_with_their_warnings(
    staff_client, maccor_on_demo_cell, tmp_path, django_capture_on_commit_callbacks
):
    cell, flagged = maccor_on_demo_cell
    path = write_maccor_cycling(
        tmp_path / "c.txt", n_cycles=5, rows_per_cycle=40, active_mass_mg=cell.active_mass_mg
    )
    fine = measure(  # newer: without the warnings-first order it would come first
        cell,
        "cycling",
        [SimpleUploadedFile("c.txt", path.read_bytes())],
        django_capture_on_commit_callbacks,
    )
    page = staff_client.get("/measurements/").content.decode()
    assert page.index(flagged.code) < page.index(fine.code)
    assert "Done, with warnings" in page
    only = staff_client.get("/measurements/?status=done_with_warnings").content.decode()
    assert flagged.code in only and fine.code not in only
    item_page = staff_client.get(f"/items/{cell.code}/").content.decode()
    # (The headline above shows the newest summary's numbers: look at the table.)
    table = item_page.split('data-testid="item-measurements"', 1)[1]
    assert table.index(flagged.code) < table.index(fine.code)
    assert "1500C" in item_page and "badge-done_with_warnings" in item_page
    detail = staff_client.get(f"/measurements/{flagged.code}/").content.decode()
    assert 'data-testid="warnings"' in detail
    assert "NCM811&#x27;s theoretical capacity of 275 mAh/g" in detail


# --- needs input ------------------------------------------------------------------------------


@pytest.fixture
def pellet_without_thickness(db):
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"diameter_mm": 12.9}})
    return pellet


def test_eis_without_thickness_needs_input_then_patching_the_pellet_computes_it(
    api, pellet_without_thickness, django_capture_on_commit_callbacks
):
    pellet = pellet_without_thickness
    m = measure(
        pellet, "eis", [upload("impedance.py/Circuit1_EIS_1.z")], django_capture_on_commit_callbacks
    )
    assert m.status == "needs_input"
    assert "sample thickness (µm)" in m.status_detail
    assert f"the pellet's thickness after polishing (mm) on {pellet.code}'s page" in m.status_detail
    assert "electrode area" not in m.status_detail  # the diameter gives it
    # What could be computed is kept: the fit, the resistance; no conductivity.
    assert Result.objects.filter(measurement=m, kind="eis_fit").exists()
    sigma = Result.objects.get(measurement=m, kind="conductivity")
    assert sigma.values["conductivity_s_cm"] is None and sigma.values["resistance_ohm"] > 0
    state = api.get(f"/api/measurements/{m.code}/status/").json()
    assert state["status"] == "needs_input" and "sample thickness" in state["status_detail"]

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(f"/api/pellets/{pellet.code}/", {"thickness_mm": 0.6}, format="json")
    assert response.status_code == 200, response.json()
    m.refresh_from_db()
    assert m.status == "done", m.status_detail
    sigma.refresh_from_db()
    area = math.pi * (1.29 / 2) ** 2
    assert sigma.values["conductivity_s_cm"] == pytest.approx(
        0.06 / (sigma.values["resistance_ohm"] * area)
    )
    assert sigma.inputs["thickness_um"] == 600.0


def test_patching_the_measurements_own_thickness_also_computes_it(
    api, pellet_without_thickness, django_capture_on_commit_callbacks
):
    m = measure(
        pellet_without_thickness,
        "eis",
        [upload("impedance.py/exampleDataZPlot.z")],
        django_capture_on_commit_callbacks,
    )
    assert m.status == "needs_input"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(f"/api/measurements/{m.code}/", {"thickness_um": 450}, format="json")
    assert response.status_code == 200, response.json()
    m.refresh_from_db()
    # The file itself is doubtful (a sweep cut short); the thickness is no longer missing.
    assert m.status == "done_with_warnings", m.status_detail
    assert "sweep stopped early" in m.status_detail
    sigma = Result.objects.get(measurement=m, kind="conductivity")
    assert sigma.inputs["thickness_um"] == 450
    assert sigma.values["conductivity_s_cm"] > 0


def test_eis_on_a_membrane_piece_waits_for_the_membranes_thickness(
    db, django_capture_on_commit_callbacks
):
    from synthesis.models import MembranePiece, SpeMembrane
    from synthesis.services import membrane_pieces_create, reagent_record_save

    membrane = factories.spe_membrane()
    [piece] = membrane_pieces_create(membrane=membrane, count=1, fields={"diameter_mm": 16.0})
    m = measure(
        piece,
        "eis",
        [upload("impedance.py/exampleDataZPlot.z")],
        django_capture_on_commit_callbacks,
    )
    assert m.status == "needs_input"
    assert "the piece's thickness (µm) or its membrane's" in m.status_detail
    with django_capture_on_commit_callbacks(execute=True):
        reagent_record_save(SpeMembrane, instance=membrane, fields={"thickness_um": 20.0})
    m.refresh_from_db()
    assert MembranePiece.objects.get(pk=piece.pk).thickness_um == 20.0
    assert m.status in ("done", "done_with_warnings"), m.status_detail
    sigma = Result.objects.get(measurement=m, kind="conductivity")
    assert sigma.inputs["thickness_um"] == 20.0


def test_cycling_without_active_mass_needs_input_and_keeps_the_capacities_in_mah(
    api, db, django_capture_on_commit_callbacks
):
    # Li|LAGP|Li has no cathode disk, so no active mass.
    cell = factories.symmetric_cell()
    assert cell.active_mass_mg is None
    m = measure(
        cell, "cycling", [upload("cellpy/maccor_three.txt")], django_capture_on_commit_callbacks
    )
    assert m.status == "needs_input"
    assert m.status_detail.startswith("Needs input to compute the specific capacities: ")
    assert (
        f"active mass (mg): set a cathode disk (its active-material loading, mg/cm²) as the positive electrode on {cell.code}'s page"
        in m.status_detail
    )
    assert "or the measurement's “active mass (mg)” in its settings" in m.status_detail
    assert not Result.objects.filter(measurement=m).exists()
    first = CycleRow.objects.filter(measurement=m).order_by("cycle").first()
    assert first.cycle == 1 and first.charge_mAh == pytest.approx(906.112)
    assert first.charge_mAh_g is None and first.c_rate is None

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"/api/measurements/{m.code}/", {"active_mass_mg": 5000}, format="json"
        )
    assert response.status_code == 200, response.json()
    m.refresh_from_db()
    assert m.status == "done", m.status_detail
    summary = Result.objects.get(measurement=m, kind="cycling_summary")
    assert summary.values["first_charge_mAh_g"] == pytest.approx(906.112 / 5, rel=1e-3)
    # A symmetric cell's electrodes are lithium lots: no material, the generic bound applies.
    assert summary.inputs["active_material"] is None


def test_an_arrhenius_fit_over_a_doubtful_conductivity_says_so(
    db, django_capture_on_commit_callbacks
):
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6, "diameter_mm": 12.9}})
    flagged = None
    # The same real spectrum (impedance.py's dummy circuit 1) recorded at three temperatures;
    # at 60 °C the area was typed as 0.005 cm², which makes σ > 0.1 S/cm.
    for t, area in ((25.0, None), (40.0, None), (60.0, 0.005)):
        m = measure(
            pellet,
            "eis",
            [upload("impedance.py/Circuit1_EIS_1.z")],
            django_capture_on_commit_callbacks,
            temperature_c=t,
            area_cm2=area,
        )
        flagged = m if area else flagged
    assert flagged.status == "done_with_warnings"
    series = Result.objects.get(item=pellet, measurement=None, kind="arrhenius")
    assert series.inputs["temperatures_c"] == [25.0, 40.0, 60.0]
    # Also a poor Arrhenius fit: one spectrum at three temperatures has no activation energy.
    assert {w["code"] for w in series.warnings} == {"arrhenius_poor_fit"}
    state = TemperatureSeries.objects.get(item=pellet)
    assert state.status == "done_with_warnings"
    [w] = [w for w in state.warnings if w["code"] == "series_uses_doubtful_points"]
    assert (
        f"uses 1 of 3 conductivities whose measurements have warnings ({flagged.code})"
        in (w["message"])
    )
