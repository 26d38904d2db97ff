"""Only a change to an input a result depends on re-runs it (issue 11): a notes-only edit
queues nothing, a thickness or loading change re-runs exactly the dependent measurements."""

import pytest

from core import jobs
from measurements.models import Measurement, Result

PATHS = {
    "cell": "cells",
    "pellet": "pellets",
    "spe_membrane": "spe-membranes",
    "electrode_disk": "electrode-disks",
}


@pytest.fixture
def queued(monkeypatch):
    """Every task sent through `core.jobs.enqueue` (still run, in-process)."""
    sent = []
    real = jobs.enqueue

    def record(name, *args):
        sent.append((name, *args))
        real(name, *args)

    monkeypatch.setattr(jobs, "enqueue", record)
    return sent


def _patch(api, item, body, capture):
    with capture(execute=True):
        response = api.patch(f"/api/{PATHS[item.kind]}/{item.code}/", body, format="json")
    assert response.status_code == 200, response.json()


def _measured(kind):
    return Measurement.objects.filter(item__kind=kind).select_related("item").first().item


@pytest.mark.parametrize("kind", ["cell", "pellet", "spe_membrane"])
def test_a_notes_only_change_queues_nothing(
    demo_measured, api, queued, django_capture_on_commit_callbacks, kind
):
    item = _measured(kind)  # a sample with measurements (CELL-0005 has the 400 cycles)
    _patch(api, item, {"notes": "re-checked, nothing changed"}, django_capture_on_commit_callbacks)
    assert queued == []


def test_a_disk_notes_change_queues_nothing(
    demo_measured, api, queued, django_capture_on_commit_callbacks
):
    from cells.models import Cell

    # CELL-0005's cathode disk: its cell has 400 cycles measured.
    disk = Cell.objects.get(code="CELL-0005").layers.get(item__kind="electrode_disk").item
    _patch(api, disk, {"notes": "edge slightly frayed"}, django_capture_on_commit_callbacks)
    assert queued == []


def test_a_pellet_thickness_change_reruns_its_measurements_only(
    demo_measured, api, queued, django_capture_on_commit_callbacks
):
    # The demo's conductivities carry their own typed thickness; the value following the
    # pellet's thickness is tests/measurements/test_pipeline.py's job. Here: what is queued.
    pellet = _measured("pellet").specific
    own = Measurement.objects.filter(item=pellet)
    thickness = pellet.thickness_mm
    _patch(api, pellet, {"thickness_mm": thickness * 2}, django_capture_on_commit_callbacks)
    # One re-run of the pellet's own measurements (each then queues its own processing).
    assert queued[0] == ("measurements.tasks.reprocess_item_measurements", pellet.pk)
    processed = sorted(args[0] for name, *args in queued if name.endswith("process_measurement"))
    assert processed == sorted(own.values_list("pk", flat=True))


def test_a_disk_loading_change_moves_the_cells_active_mass_and_its_results(
    demo_measured, api, queued, django_capture_on_commit_callbacks
):
    from cells.models import Cell

    cell = Cell.objects.get(code="CELL-0005")
    disk = cell.layers.get(item__kind="electrode_disk").item.specific
    loading, mass = disk.active_loading_mg_cm2, cell.active_mass_mg
    summary = Result.objects.filter(measurement__item=cell, kind="cycling_summary").first()
    first = summary.values["first_discharge_mAh_g"]
    _patch(api, disk, {"active_loading_mg_cm2": loading * 2}, django_capture_on_commit_callbacks)
    cell.refresh_from_db()
    assert cell.active_mass_mg == pytest.approx(2 * mass, rel=1e-9)
    # The disk itself has no measurements: the cell's refresh, then the cell's re-run.
    assert queued[:2] == [
        ("cells.tasks.refresh_cell_derived", cell.pk),
        ("measurements.tasks.reprocess_item_measurements", cell.pk),
    ]
    processed = sorted(args[0] for name, *args in queued if name.endswith("process_measurement"))
    assert processed == sorted(cell.measurements.values_list("pk", flat=True))
    summary.refresh_from_db()
    assert summary.values["first_discharge_mAh_g"] == pytest.approx(first / 2, rel=1e-3)
