"""Audit completeness (issue 12 §2): every queryset write of the product code is known and
audited (one event per changed row, or one documented bulk event listing the rows), and a test
that performs each path counts audit rows against the rows written."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import AuditEvent, LineageEdge
from core.services import set_parents
from measurements import services as measurement_services
from measurements.models import Measurement, MeasurementFile, Result
from synthesis.services import pellets_measure
from tests import factories
from tests.instrument_files import instrument_file

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["core", "synthesis", "cells", "measurements", "lims", "demo"]
WRITES = {"update", "delete", "bulk_create", "bulk_update"}

# (file, function, method): how the write is audited, or why it needs no audit event.
KNOWN = {
    # Audited by the signals: a queryset delete sends pre/post_delete for every row.
    ("core/services.py", "set_parents", "delete"): "one delete event per edge (signals)",
    ("measurements/services.py", "measurement_remove_file", "delete"): "one delete event",
    # Audited explicitly.
    ("measurements/services.py", "measurement_reprocess", "update"): "one state event",
    ("measurements/services.py", "_set_state", "update"): "one event per status change",
    ("measurements/services.py", "_store_results", "delete"): "bulk event: results before/after",
    ("measurements/services.py", "_store_results", "bulk_create"): "bulk event: cycle rows",
    ("measurements/services.py", "_store_series", "delete"): "bulk event: series fits",
    ("core/api/tokens.py", "token_rotate", "delete"): "token events (core.api.tokens)",
    ("core/api/tokens.py", "token_revoke", "delete"): "token events (core.api.tokens)",
    ("core/api/tokens.py", "token_refused_as_expired", "update"): "the expire event",
    # Not records of the lab (AUDITED = False): the outbox and a series' processing state.
    ("core/jobs.py", "_deliver", "update"): "job bookkeeping",
    ("core/jobs.py", "_finished", "delete"): "job bookkeeping",
    ("core/jobs.py", "_finished", "update"): "job bookkeeping",
    ("core/jobs.py", "_started", "update"): "job bookkeeping",
    ("core/jobs.py", "reconcile", "delete"): "job bookkeeping",
    ("core/jobs.py", "send", "update"): "job bookkeeping",
    ("measurements/services.py", "_set_series_state", "update"): "series state (its fits: bulk)",
    ("measurements/services.py", "temperature_series_request", "update"): "series state",
    # A project export's progress (its request is the audited "export" event).
    ("lims/exports.py", "_finish", "update"): "export bookkeeping",
    ("lims/exports.py", "write_project_export", "update"): "export bookkeeping",
}


def _from_manager(node: ast.AST) -> bool:
    while True:
        if isinstance(node, ast.Attribute):
            if node.attr in ("objects", "_base_manager", "_default_manager"):
                return True
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return False


def queryset_writes() -> set[tuple[str, str, str]]:
    """Every `Model.objects....update/delete/bulk_create/bulk_update(...)` chain in the
    product code (not migrations), by file and function."""
    found = set()
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            for fn in ast.walk(tree):
                if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(fn):
                    if (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and node.func.attr in WRITES
                        and _from_manager(node.func.value)
                    ):
                        found.add((str(path.relative_to(ROOT)), fn.name, node.func.attr))
    return found


def test_every_queryset_write_in_the_product_code_is_known_and_audited():
    found = queryset_writes()
    assert found - set(KNOWN) == set(), "a new queryset write: audit it and list it in KNOWN"
    assert set(KNOWN) - found == set(), "a listed write is gone: remove it from KNOWN"


def _events(**filters) -> int:
    return AuditEvent.objects.filter(**filters).count()


@pytest.fixture
def processed(staff, django_capture_on_commit_callbacks):
    pellet = factories.pellets(count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6}})
    mpt = instrument_file("impedance.py/exampleDataBioLogic.mpt")
    before = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        measurement = measurement_services.measurement_create(
            user=staff,
            item=pellet,
            fields={"technique": "eis", "area_cm2": 1.0, "temperature_c": 25},
            uploads=[SimpleUploadedFile(mpt.name, mpt.read_bytes())],
        )
    return pellet, Measurement.objects.get(pk=measurement.pk), before


def test_a_worker_run_audits_the_re_parse_the_state_and_the_results(processed):
    pellet, measurement, _ = processed
    link = MeasurementFile.objects.get(measurement=measurement)
    assert link.parser == "biologic_mpt" and link.parsed_rows == 43
    # The re-parse wrote the file row once (it was a queryset update, unaudited, before).
    parsed = AuditEvent.objects.filter(model="measurements.measurementfile", action="update")
    assert parsed.count() == 1
    assert parsed.get().after["parsed_rows"] == 43
    # Run 1 queued, processing, finished: three state changes, three events.
    states = AuditEvent.objects.filter(
        model="measurements.measurement", object_pk=str(measurement.pk), action="update"
    ).order_by("pk")
    assert [e.after["status"] for e in states] == ["queued", "processing", measurement.status]
    # One bulk event lists exactly the result rows written.
    [bulk] = AuditEvent.objects.filter(model="measurements.result", object_pk=str(measurement.pk))
    rows = sorted(Result.objects.filter(measurement=measurement).values_list("pk", flat=True))
    assert sorted(r["pk"] for r in bulk.after["results"]) == rows and len(rows) >= 2
    assert bulk.before == {"bulk": True, "results": []}


def test_each_write_path_writes_as_many_audit_rows_as_rows_changed(
    processed, staff, client, django_capture_on_commit_callbacks
):
    pellet, measurement, _ = processed

    # A re-run request: one state event; its run: processing + finished + one bulk event
    # naming the same result rows (updated in place); the EIS point then recomputes the
    # pellet's temperature series: one bulk event for its fits.
    start = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        measurement_services.measurement_reprocess(measurement)
    new = AuditEvent.objects.filter(pk__gt=0).order_by("pk")[start:]
    models = sorted(e.model for e in new)
    assert models == [
        "measurements.measurement",
        "measurements.measurement",
        "measurements.measurement",
        "measurements.result",
        "measurements.result",
    ], models
    assert {e.object_pk for e in new if e.model == "measurements.result"} == {
        str(measurement.pk),
        f"series-{pellet.pk}",
    }

    # The lineage edges replaced by a queryset delete: one event per edge removed.
    other = factories.lagp_batch()
    edges = LineageEdge.objects.filter(child=pellet).count()
    start = _events(model="lims.lineageedge", action="delete")
    set_parents(pellet, [(other, "powder", 1.0, "mg")])
    assert _events(model="lims.lineageedge", action="delete") - start == edges == 1

    # Detaching a file (a queryset delete): one delete event.
    link = measurement.files.get()
    start = _events(model="measurements.measurementfile", action="delete")
    with django_capture_on_commit_callbacks(execute=True):
        measurement_services.measurement_remove_file(measurement, link.pk)
    assert _events(model="measurements.measurementfile", action="delete") - start == 1

    # The admin's delete of computed results (not audited by the signals): one event each.
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    results = list(Result.objects.filter(item=pellet).values_list("pk", flat=True))
    assert results
    start = _events(model="measurements.result", action="delete")
    response = client.post(
        "/admin/measurements/result/",
        {"action": "delete_selected", "_selected_action": results, "post": "yes"},
    )
    assert response.status_code == 302
    assert not Result.objects.filter(pk__in=results).exists()
    deleted = AuditEvent.objects.filter(model="measurements.result", action="delete")
    assert deleted.count() - start == len(results)
    assert {int(e.object_pk) for e in deleted} == set(results)
    assert all(e.username == staff.username for e in deleted)
