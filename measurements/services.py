"""Writes for measurements: create, attach raw files, (re)process, store results.

The pipeline a worker runs for one measurement (`process_measurement`) is a sequence of small
steps with the state on the measurement row: queued -> processing (with progress) -> done, or
failed with the reason. Every run is numbered; a worker writes results only for the run it was
asked to do, so a duplicate or stale delivery of a task changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core import jobs, permissions
from core.audit import record_event
from core.models import Item
from core.services import allocate_code, apply_changes
from core.signals import touches
from core.signatures import RecordLocked, check_unlocked, is_locked, version_of

from . import compute, parsers, selectors, storage
from .analysis import AnalysisError, quality
from .analysis._util import jsonable
from .models import (
    FINISHED_OK,
    STATUS_DETAIL_MAX_LENGTH,
    CycleRow,
    Measurement,
    MeasurementFile,
    RawFile,
    Result,
    SeriesPointOverride,
    Status,
    Technique,
    TemperatureSeries,
)

log = logging.getLogger(__name__)
PARSE_CACHE_VERSION = "3"  # bump when a parser's output changes, to re-parse stored files
MIN_VFT_T0_K = 50.0
MAX_UPLOAD_BYTES = settings.LIMS_MAX_UPLOAD_BYTES


# --- raw files ---------------------------------------------------------------------------------


def raw_file_store(stream, *, filename: str, user=None) -> tuple[RawFile, bool]:
    """Keep an upload under its SHA-256; the same bytes uploaded again are recognised. When
    they repair a damaged or missing stored copy, the measurements that failed on it are run
    again."""
    sha, size, written = storage.store_stream(stream, limit=MAX_UPLOAD_BYTES)
    existing = RawFile.objects.filter(sha256=sha).first()
    if existing is not None:
        if written:
            log.warning("raw file %s repaired in the store by a re-upload", sha)
            for measurement in Measurement.objects.filter(
                files__raw_file=existing, status=Status.FAILED
            ).distinct():
                if not is_locked(measurement.item_id):  # a signed record's results stay
                    measurement_reprocess(measurement)
        return existing, False
    try:
        with transaction.atomic():
            raw = RawFile.objects.create(
                sha256=sha,
                size_bytes=size,
                original_name=filename[:255],
                storage_path=storage.raw_key(sha),
                uploaded_by=user,
            )
    except IntegrityError:  # the same bytes arrived at the same moment through another request
        return RawFile.objects.get(sha256=sha), False
    return raw, True


def _attach(measurement: Measurement, uploads: Iterable, user) -> list[MeasurementFile]:
    attached = []
    position = measurement.files.count()
    for upload in uploads:
        raw, _ = raw_file_store(upload, filename=upload.name, user=user)
        link, created = MeasurementFile.objects.get_or_create(
            measurement=measurement,
            raw_file=raw,
            defaults={"filename": upload.name[:255], "position": position},
        )
        position += created
        attached.append(link)
    return attached


# --- create / reprocess ----------------------------------------------------------------------

EDITABLE = (
    "technique",
    "instrument",
    "temperature_c",
    "thickness_um",
    "area_cm2",
    "active_mass_mg",
    "eis_model",
    "conductivity_resistances",
    "reference_cycle",
    "parser",
    "options",
    "notes",
)


@transaction.atomic
def measurement_create(
    *, user=None, item, fields: dict[str, Any], uploads: Iterable = ()
) -> Measurement:
    if user is not None:  # a worker or the demo loader has none: the caller decided
        permissions.check_write(user, item)
    measurement = Measurement(
        item=item, created_by=user, **{k: v for k, v in fields.items() if k in EDITABLE}
    )
    measurement.full_clean(exclude=["code"])
    _check_parser(measurement.parser, measurement.options)
    measurement.code = allocate_code("MEAS")
    measurement.save()
    _attach(measurement, uploads, user)
    measurement_reprocess(measurement)
    return measurement


def _same(a: float, b: float | None) -> bool:
    return b is not None and math.isclose(a, b, rel_tol=1e-9)


def measure_again_offer(item: Item) -> tuple[Item, int] | None:
    """For the new version of a record: the earlier version and how many of its measurements
    this one has not taken yet (None: nothing to offer)."""
    old = version_of(item) if item.pk is not None else None
    if old is None:
        return None
    left = Measurement.objects.filter(item=old).exclude(carried_to__item=item).count()
    return (old, left) if left else None


@transaction.atomic
def measurements_measure_again(item: Item, *, user=None) -> list[Measurement]:
    """Measure the new version of a record again from the earlier version's raw files: each of
    the earlier version's measurements (not taken yet) is copied onto this one, its settings
    and the same stored raw files (content-addressed: no byte copied), and computed afresh
    with this record's values, e.g. a corrected pellet thickness. A geometry value typed on
    the measurement as the earlier version recorded it gives way; one typed differently is
    kept and named in the copy's notes. Each copy names what it came from."""
    if user is not None:
        permissions.check_write(user, item)
    check_unlocked(item.pk)
    old = version_of(item)
    if old is None:
        raise ValidationError(
            {
                "item": f"{item.code} is not a new version of another record: nothing to measure "
                "again."
            }
        )
    sources = (
        Measurement.objects.filter(item=old)
        .exclude(carried_to__item=item)
        .prefetch_related("files")
        .order_by("pk")
    )
    made = []
    old, new = old.specific, item.specific
    for source in sources:
        settings_ = {name: getattr(source, name) for name in EDITABLE}
        kept = []
        for name in SAMPLE_SOURCES:
            typed = settings_[name]
            if typed is None:
                continue
            if _same(typed, sample_value(old, name)):
                # Typed as the earlier version recorded it (a form prefilled from the sample,
                # an import): the record's value, which the new version corrects.
                settings_[name] = None
            else:
                label = Measurement._meta.get_field(name).verbose_name
                kept.append(f"{label} {typed:g}")
        if kept:
            # Typed on purpose for that measurement: kept, and said where the copy is read.
            line = f"Measured again from {source.code}; kept as typed there: {', '.join(kept)}."
            settings_["notes"] = "\n".join(filter(None, [settings_["notes"], line]))
        copy = Measurement(item=new, created_by=user, carried_from=source, **settings_)
        copy.full_clean(exclude=["code"])
        copy.code = allocate_code("MEAS")
        copy.save()
        for link in source.files.order_by("position", "pk"):
            MeasurementFile.objects.create(
                measurement=copy,
                raw_file_id=link.raw_file_id,
                filename=link.filename,
                position=link.position,
            )
        measurement_reprocess(copy)
        made.append(copy)
    if not made:
        raise ValidationError({"item": f"{item.code} already has every measurement of {old.code}."})
    return made


@transaction.atomic
def measurement_update(
    measurement: Measurement, *, fields: dict[str, Any], expected_version: int | None = None
) -> Measurement:
    """Change a measurement's settings (only what differs is written, under a row lock) and
    compute its results again."""
    editable = {name: value for name, value in fields.items() if name in EDITABLE}
    measurement, changed = apply_changes(measurement, editable, expected_version=expected_version)
    _check_parser(measurement.parser, measurement.options)
    if changed:
        measurement.save(update_fields=changed)
    measurement_reprocess(measurement)
    return measurement


def _check_parser(name: str, options) -> None:
    """The parser exists and takes these options: the rule the API and the web pages share,
    so options a format cannot use are refused when saved, not when processing fails."""
    if name:
        try:
            parsers.get_parser(name)
        except parsers.ParseError as exc:
            raise ValidationError({"parser": exc.message}) from None
    if not isinstance(options, dict):
        raise ValidationError({"options": 'Must be a JSON object, e.g. {"kind": "eis"}.'})
    errors = parsers.check_options(name, options)
    if errors:
        raise ValidationError({"options": errors})


@transaction.atomic
def measurement_add_files(measurement: Measurement, uploads: Iterable, *, user=None) -> None:
    _attach(measurement, uploads, user)
    measurement_reprocess(measurement)


def measurement_set_mapping(
    measurement: Measurement, *, kind: str, mapping: dict[str, str], sheet: str | None = None
) -> Measurement:
    """Process the measurement's file as a generic CSV (or the given sheet of a spreadsheet)
    with the column mapping a user confirmed; unit scale factors follow from the column names
    (e.g. `I [A]` -> x1000 mA)."""
    from .parsers import generic_csv

    options = {"kind": kind, "mapping": mapping, "units": generic_csv.suggest_units(mapping)}
    if sheet:
        options["sheet"] = sheet
    return measurement_update(
        measurement, fields={"parser": generic_csv.PARSER.name, "options": options}
    )


@transaction.atomic
def measurement_remove_file(measurement: Measurement, link_id: int) -> None:
    """Detach a wrongly attached file; its raw bytes stay in the store (raw data is never
    deleted), and the measurement is recomputed from the files left."""
    deleted, _ = MeasurementFile.objects.filter(measurement=measurement, pk=link_id).delete()
    if not deleted:
        raise ValidationError({"files": "That file is not attached to this measurement."})
    measurement_reprocess(measurement)


@transaction.atomic
def measurement_delete(measurement: Measurement) -> None:
    """Delete a measurement (its raw bytes stay in the store); a temperature series it was a
    point of is computed again without it."""
    item_id, eis_point = measurement.item_id, measurement.technique == Technique.EIS
    measurement.delete()
    if eis_point and TemperatureSeries.objects.filter(item_id=item_id).exists():
        temperature_series_request(item_id)


@transaction.atomic
def measurement_reprocess(measurement: Measurement) -> int:
    """Queue a fresh run; the task is sent only once this transaction commits. Refused
    (RecordLocked) for a measurement of a signed record: its results are what was signed."""
    # A queryset update bypasses the model guard: check the lock here.
    check_unlocked(measurement.item_id)
    before = {"run": measurement.run, "status": measurement.status}
    Measurement.objects.filter(pk=measurement.pk).update(
        run=F("run") + 1, status=Status.QUEUED, progress=0, status_detail=""
    )
    measurement.refresh_from_db(fields=["run", "status", "progress", "status_detail"])
    run, pk = measurement.run, measurement.pk
    _audit_state(measurement, before, {"run": run, "status": Status.QUEUED})
    jobs.enqueue_on_commit("measurements.tasks.process_measurement", pk, run)
    return run


def inputs_changed(item_id: int, fields: frozenset[str] | None) -> bool:
    """Whether a change of `fields` of an item (None: unknown) can alter its measurements'
    inputs, or those of the pieces that borrow its thickness."""
    item = Item.objects.filter(pk=item_id).first()
    if item is None:
        return False
    return touches(fields, type(item.specific).fields_behind(SAMPLE_INPUTS))


def dependent_measurements(item_id: int):
    """Measurements whose inputs come from this item: its own, and those of the pieces that
    take their thickness from it (an SPE membrane's pieces without a thickness of their own)."""
    item = Item.objects.filter(pk=item_id).first()
    borrowers = [b.pk for b in item.specific.geometry_borrowers()] if item is not None else []
    return Measurement.objects.filter(Q(item_id=item_id) | Q(item_id__in=borrowers))


def reprocess_item_measurements(item_id: int) -> int:
    """An item's geometry or mass changed: recompute every measurement that used it."""
    count = 0
    for measurement in dependent_measurements(item_id):
        try:
            measurement_reprocess(measurement)
        except RecordLocked as exc:
            # A signed record keeps the results it was signed with; its correction is a new
            # version, which computes its own.
            log.warning("%s not recomputed: %s", measurement.code, exc.messages[0])
            continue
        count += 1
    return count


# --- the pipeline (run by a worker) ----------------------------------------------------------


def _audit_state(measurement, before: dict, after: dict) -> None:
    """A measurement's processing state is written with queryset updates (a worker must not
    overwrite a newer run's state, and `save` would bump the record's version): each change
    of run or status is one audit event. Progress ticks alone are not (a running job's
    percentage, not a change of the record). Not on the item page's history, which hides
    processing state: in the audit log."""
    record_event(
        "update",
        model="measurements.measurement",
        object_pk=str(measurement.pk),
        object_repr=f"{measurement.code} processing state",
        before=before,
        after=after,
    )


def _set_state(pk: int, run: int, **fields) -> bool:
    """Update the measurement's state if it is still on this run; a change of status is
    audited."""
    if "status" not in fields:
        return Measurement.objects.filter(pk=pk, run=run).update(**fields) > 0
    before = Measurement.objects.filter(pk=pk, run=run).values("code", "status").first()
    if before is None or Measurement.objects.filter(pk=pk, run=run).update(**fields) == 0:
        return False
    measurement = Measurement(pk=pk, code=before["code"])
    after = {"run": run, "status": str(fields["status"])}
    if fields.get("status_detail"):
        after["status_detail"] = fields["status_detail"]
    _audit_state(measurement, {"run": run, "status": before["status"]}, after)
    return True


def process_measurement(measurement_id: int, run: int) -> str:
    measurement = Measurement.objects.select_related("item").filter(pk=measurement_id).first()
    if measurement is None or measurement.run != run:
        return "stale"  # deleted, or a newer run was requested after this one was queued
    if is_locked(measurement.item_id):
        # Signed since it was queued: the run ends without writing anything.
        log.warning(
            "%s not processed: %s is signed and locked", measurement.code, measurement.item.code
        )
        return "locked"
    _set_state(measurement_id, run, status=Status.PROCESSING, progress=1, status_detail="")
    try:
        finished = _run_pipeline(measurement, run)
    except (parsers.ParseError, AnalysisError, storage.Damaged) as exc:
        failed = _set_state(
            measurement_id,
            run,
            status=Status.FAILED,
            status_detail=str(exc)[:STATUS_DETAIL_MAX_LENGTH],
            processed_at=timezone.now(),
        )
        if failed and measurement.technique == Technique.EIS:
            # A point the series used may be gone: the series must not keep it.
            temperature_series_request(measurement.item_id)
        return "failed"
    except MemoryError:
        _set_state(
            measurement_id,
            run,
            status=Status.FAILED,
            processed_at=timezone.now(),
            status_detail="the file is too large to process in this worker's memory",
        )
        return "failed"
    except SoftTimeLimitExceeded:
        _set_state(
            measurement_id,
            run,
            status=Status.FAILED,
            processed_at=timezone.now(),
            status_detail=_over_limit(),
        )
        return "failed"
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task is retried, the state is written then
    except Exception as exc:
        if storage.is_transient(exc):
            raise  # the store did not answer: retried by the task or, later, the reconciler
        # A defect of ours, not of the file: say so instead of leaving "processing" for good.
        log.exception("measurement %s run %s: unexpected error", measurement_id, run)
        _set_state(
            measurement_id,
            run,
            status=Status.FAILED,
            processed_at=timezone.now(),
            status_detail=(
                f"internal error while processing ({type(exc).__name__}); the raw file is "
                "kept: reprocess it, and report this to the LIMS maintainers if it happens again"
            )[:STATUS_DETAIL_MAX_LENGTH],
        )
        return "failed"
    if finished is None:
        return "stale"
    _warm_plot(measurement_id)
    return finished  # the status it finished with: done, done_with_warnings or needs_input


def _over_limit() -> str:
    limit = settings.LIMS_TASK_TIME_LIMIT_S
    return (
        f"processing took longer than the {limit} s limit (LIMS_TASK_TIME_LIMIT_S) and was stopped"
    )


def _warm_plot(measurement_id: int) -> None:
    """Build and cache the page's plot payload now, so the first visit of a large test is as
    fast as the next. A plot that cannot be built is logged, never a failure of the run: the
    numbers are stored already."""
    measurement = Measurement.objects.filter(pk=measurement_id).first()
    if measurement is None:
        return
    try:
        selectors.plot_data(measurement)
    except (AnalysisError, OSError, ValueError, pl.exceptions.PolarsError):
        log.exception("plot payload of %s not cached", measurement.code)


def _run_pipeline(measurement: Measurement, run: int):
    links = list(measurement.files.select_related("raw_file"))
    frames, kinds, doubts = [], [], []
    for index, link in enumerate(links):
        frame, kind, file_doubts = _parsed(measurement, link)
        frames.append((link.filename, frame))
        kinds.append(kind)
        doubts += [f"{link.filename}: {d}" for d in file_doubts]
        _set_state(measurement.pk, run, progress=10 + int(60 * (index + 1) / len(links)))
    inputs = measurement_inputs(measurement)
    outcome = compute.compute(measurement.technique, frames, kinds, inputs)
    if doubts and outcome.results:
        # What makes the file doubtful makes its numbers doubtful: the headline result says so.
        outcome.results[0].warnings = [
            *({"code": "file_doubt", "message": f"{d}."} for d in doubts),
            *outcome.results[0].warnings,
        ]
    _set_state(measurement.pk, run, progress=85)
    return _store_results(measurement, run, outcome)


def _options_key(options: dict) -> str:
    if not options:
        return PARSE_CACHE_VERSION
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:10]
    return f"{PARSE_CACHE_VERSION}-{digest}"


def _parsed(measurement: Measurement, link: MeasurementFile) -> tuple[pl.DataFrame, str, list]:
    """The file's canonical data, its kind and its doubts (``parsers.Doubt``): from the
    Parquet cache, or parsed now and cached."""
    raw = link.raw_file
    # Checked on every run, cached or not: numbers must not stand on bytes the store no longer
    # holds, and a re-run is how a damaged file is noticed on the measurement's page.
    options = measurement.options or {}
    parser_name = measurement.parser or link.parser or ""
    cached = (
        storage.parsed_key(raw.sha256, parser_name, _options_key(options)) if parser_name else None
    )
    if cached is not None and link.metadata.get("kind") and storage.exists(cached):
        storage.verify(raw.sha256, link.filename)
        return storage.read_parquet(cached), link.metadata["kind"], link.metadata.get("doubts", [])
    try:
        with storage.local_raw(raw.sha256, link.filename) as path:
            parsed = parsers.parse_file(
                path,
                filename=link.filename,
                parser_name=parser_name or None,
                options=options or None,
            )
    except parsers.ParseError as exc:
        raise parsers.ParseError(f"{link.filename}: {exc}") from None
    name = parsed.metadata.get("parser", parser_name)
    target = storage.parsed_key(raw.sha256, name, _options_key(options))
    storage.write_parquet(parsed.data, target)
    # Saved (not a queryset update): the re-parse is an audited change of the file row, and
    # passes the lock guard.
    link.parser, link.parsed_path, link.parsed_rows = name, target, parsed.data.height
    link.warnings = parsed.warnings
    link.metadata = {**parsed.metadata, "kind": parsed.kind, "doubts": parsed.doubts}
    link.save(update_fields=["parser", "parsed_path", "parsed_rows", "warnings", "metadata"])
    return parsed.data, parsed.kind, parsed.doubts


# The sample's values (fields or computed properties) `measurement_inputs` reads: a change to
# any stored field behind them (`Item.fields_behind`) re-runs the sample's measurements.
SAMPLE_THICKNESS = ("thickness_mm", "thickness_um")
SAMPLE_AREA = ("active_area_cm2", "area_cm2")
SAMPLE_MASS = ("active_mass_mg",)
SAMPLE_INPUTS = SAMPLE_THICKNESS + SAMPLE_AREA + SAMPLE_MASS


def _first_set(item, names: tuple[str, ...], scale: dict[str, float] | None = None):
    for name in names:
        value = getattr(item, name, None)
        if value:
            return value * (scale or {}).get(name, 1)
    return None


# A measurement's geometry field -> where the sample records it (and the factor to its unit).
SAMPLE_SOURCES = {
    "thickness_um": (SAMPLE_THICKNESS, {"thickness_mm": 1000}),
    "area_cm2": (SAMPLE_AREA, None),
    "active_mass_mg": (SAMPLE_MASS, None),
}


def sample_value(item, field: str) -> float | None:
    """What the sample records for a measurement's geometry field (a pellet's thickness in
    µm, a cell's active area), used when the measurement has none typed."""
    names, scale = SAMPLE_SOURCES[field]
    return _first_set(item, names, scale)


def measurement_inputs(measurement: Measurement) -> dict[str, Any]:
    """The geometry and masses a computation uses: the measurement's own values first, then
    the sample's (pellet thickness and area, membrane thickness, cell active mass and area)."""
    item = measurement.item.specific
    thickness_um = measurement.thickness_um
    if thickness_um is None:
        thickness_um = sample_value(item, "thickness_um")
    area = measurement.area_cm2 or sample_value(item, "area_cm2")
    mass = measurement.active_mass_mg or sample_value(item, "active_mass_mg")
    return {
        "thickness_um": thickness_um,
        "area_cm2": area,
        "active_mass_mg": mass,
        "temperature_c": measurement.temperature_c,
        "eis_model": measurement.eis_model,
        "conductivity_resistances": measurement.conductivity_resistances,
        "reference_cycle": measurement.reference_cycle,
        "instrument": measurement.instrument,
        "active_material": active_material(item),
    }


def active_material(item) -> str | None:
    """The active material of a cell's positive electrode (or of a disk or coating measured
    on its own) as a key of the theoretical-capacity table, from the coating's active
    material lot; None when the records do not say or the material is not in the table."""
    keys = set()
    for lot in item.positive_active_lots():
        chemical = lot.chemical
        keys.add(quality.material_key(chemical.notation_label, chemical.formula, chemical.name))
    # Two different materials (or one unknown) on the positive side: no single bound applies.
    return keys.pop() if len(keys) == 1 else None


# What a missing input is called on the forms, and where it is set, by the sample's kind.
INPUT_LABELS = {
    "thickness_um": "sample thickness (µm)",
    "area_cm2": "electrode area (cm²)",
    "active_mass_mg": "active mass (mg)",
}
INPUT_SOURCES = {
    ("thickness_um", "pellet"): "the pellet's thickness after polishing (mm)",
    ("thickness_um", "spe_membrane"): "the membrane's thickness (µm)",
    ("thickness_um", "membrane_piece"): "the piece's thickness (µm) or its membrane's",
    ("area_cm2", "pellet"): "the pellet's sintered diameter (mm)",
    ("area_cm2", "cell"): "the cell's active area (cm²)",
    ("active_mass_mg", "cell"): (
        "a cathode disk (its active-material loading, mg/cm²) as the positive electrode"
    ),
}


def needs_input_detail(measurement: Measurement, missing: list[str]) -> str:
    """Which inputs a measurement waits for, in the form's words, and where to set them."""
    kind = measurement.item.kind
    parts = []
    for name in missing:
        where = f"the measurement's “{INPUT_LABELS[name]}” in its settings"
        source = INPUT_SOURCES.get((name, kind))
        if source:
            where = f"{source} on {measurement.item.code}'s page, or {where}"
        parts.append(f"{INPUT_LABELS[name]}: set {where}")
    headline = {
        Technique.EIS: "the conductivity",
        Technique.CYCLING: "the specific capacities",
    }.get(measurement.technique, "the result")
    return f"Needs input to compute {headline}: " + "; ".join(parts) + "."


@transaction.atomic
def _store_results(measurement: Measurement, run: int, outcome: compute.Outcome) -> str | None:
    # Lock the row: a concurrent re-run request waits, and a stale run writes nothing.
    current = Measurement.objects.select_for_update().get(pk=measurement.pk)
    if current.run != run:
        return None
    if is_locked(current.item_id):
        log.warning("%s: results not stored, its record was signed meanwhile", current.code)
        return None
    results_before = _result_rows(Result.objects.filter(measurement=current))
    # Updated in place, so a result keeps its id (and `/api/results/<id>/`) across re-runs.
    Result.objects.filter(measurement=current).exclude(
        kind__in=[r.kind for r in outcome.results]
    ).delete()
    for r in outcome.results:
        Result.objects.update_or_create(
            measurement=current,
            kind=r.kind,
            defaults={
                "item_id": current.item_id,
                "values": r.values,
                "inputs": r.inputs,
                "warnings": r.warnings,
                "algorithm_version": r.algorithm_version,
            },
        )
    CycleRow.objects.filter(measurement=current).delete()
    cycle_rows = 0
    if outcome.per_cycle is not None:
        cycle_rows = len(
            CycleRow.objects.bulk_create(_cycle_rows(current, outcome.per_cycle), batch_size=2000)
        )
    _audit_computed(current, results_before, cycle_rows)
    status, detail = _final_status(current, outcome)
    # An update, not a save: processing state is not a change of the record to audit.
    _set_state(
        current.pk,
        run,
        status=status,
        progress=100,
        processed_at=timezone.now(),
        status_detail=detail[:STATUS_DETAIL_MAX_LENGTH],
    )
    if current.technique == Technique.EIS:
        temperature_series_request(current.item_id)
    return str(status)


def _result_rows(results) -> list[dict]:
    return [
        {"pk": pk, "kind": kind} for pk, kind in results.order_by("kind").values_list("pk", "kind")
    ]


def _audit_computed(measurement: Measurement, before: list[dict], cycle_rows: int) -> None:
    """Results and cycle rows are replaced wholesale by a worker (bulk writes, no per-row
    event): one documented bulk event per run lists the results before and after, by primary
    key, and the number of cycle rows written."""
    record_event(
        "update",
        model="measurements.result",
        object_pk=str(measurement.pk),
        object_repr=f"results of {measurement.code} computed (run {measurement.run})",
        # Not on the item page's history (every run would add a row): in the audit log.
        before={"bulk": True, "results": before},
        after={
            "bulk": True,
            "measurement": measurement.code,
            "run": measurement.run,
            "results": _result_rows(Result.objects.filter(measurement=measurement)),
            "cycle_rows": cycle_rows,
        },
    )


def _final_status(measurement: Measurement, outcome: compute.Outcome) -> tuple[str, str]:
    """Never plainly "done" with a missing or doubtful headline number."""
    if outcome.missing:
        return Status.NEEDS_INPUT, needs_input_detail(measurement, outcome.missing)
    warnings = outcome.warnings
    if warnings:
        count = f"{len(warnings)} warning{'s' if len(warnings) > 1 else ''}"
        return Status.DONE_WITH_WARNINGS, f"{count}: " + " ".join(w["message"] for w in warnings)
    return Status.DONE, ""


def _cycle_rows(measurement: Measurement, table: pl.DataFrame) -> list[CycleRow]:
    fields = {f.name for f in CycleRow._meta.concrete_fields} - {"id", "measurement"}
    table = table.fill_nan(None)  # NaN (e.g. CE of a cycle without charge) is stored as NULL
    return [
        CycleRow(measurement=measurement, **{k: v for k, v in row.items() if k in fields})
        for row in table.to_dicts()
    ]


# --- temperature series ----------------------------------------------------------------------
#
# An item's Arrhenius (σ and σT forms) and VFT fits over its EIS measurements at different
# temperatures have a state of their own (`TemperatureSeries`), numbered runs like a
# measurement's, and are recomputed by a worker whenever an EIS measurement of the item
# finishes (or fails, or is deleted) and whenever a user includes or excludes a point.


@transaction.atomic
def temperature_series_request(item_id: int) -> TemperatureSeries:
    """Queue a fresh computation of the item's series; the task is sent on commit. Not for a
    signed record: its fits stay as signed (and nothing is queued that would never finish)."""
    if is_locked(item_id):
        return TemperatureSeries.objects.filter(item_id=item_id).first() or TemperatureSeries(
            item_id=item_id
        )
    series, _ = TemperatureSeries.objects.get_or_create(item_id=item_id)
    TemperatureSeries.objects.filter(pk=series.pk).update(
        run=F("run") + 1, status=Status.QUEUED, status_detail=""
    )
    series.refresh_from_db()
    run = series.run
    jobs.enqueue_on_commit("measurements.tasks.update_temperature_series", item_id, run)
    return series


POINT_CHOICES = ("include", "exclude", "auto")


@transaction.atomic
def temperature_series_set_points(item, choices: dict[str, str], *, user=None):
    """Include or exclude points (by measurement code, any case) whatever the outlier check
    says, or give them back to it ("auto"); the series is then computed again."""
    if not choices:
        raise ValidationError({"points": "Name at least one measurement, e.g. {code: exclude}."})
    wanted, errors = {}, []
    for code, choice in choices.items():
        folded = choice.strip().lower() if isinstance(choice, str) else choice
        if folded not in POINT_CHOICES:
            errors.append(
                f"{code}: {choice!r} is not a choice; use one of: include, exclude, auto."
            )
        else:
            wanted[str(code).strip().upper()] = folded
    measurements = {
        m.code: m
        for m in Measurement.objects.filter(
            item=item, technique=Technique.EIS, code__in=list(wanted)
        )
    }
    for code in wanted:
        if code not in measurements:
            errors.append(f"{code}: {item.code} has no EIS measurement with this code.")
    if errors:
        raise ValidationError({"points": errors})
    for code, choice in wanted.items():
        measurement = measurements[code]
        current = SeriesPointOverride.objects.filter(measurement=measurement).first()
        if choice == "auto":
            if current is not None:
                current.delete()
        elif current is None:
            SeriesPointOverride.objects.create(measurement=measurement, choice=choice, set_by=user)
        elif current.choice != choice or current.set_by_id != getattr(user, "pk", None):
            current.choice, current.set_by = choice, user
            current.save()
    return temperature_series_request(item.pk)


def _set_series_state(item_id: int, run: int, **fields) -> bool:
    return TemperatureSeries.objects.filter(item_id=item_id, run=run).update(**fields) > 0


def update_temperature_series(item_id: int, run: int | None = None) -> str:
    """The worker's side: compute the series for the run it was asked to, store fits, points,
    warnings and state; a stale run writes nothing. (`run` None: a message from before runs
    were numbered; it computes the current run.)"""
    series = TemperatureSeries.objects.filter(item_id=item_id).first()
    if series is None:
        return "stale"  # the item was deleted
    run = series.run if run is None else run
    if series.run != run:
        return "stale"
    if is_locked(item_id):
        log.warning("temperature series of item %s not computed: the record is signed", item_id)
        return "locked"
    _set_series_state(item_id, run, status=Status.PROCESSING, status_detail="")
    try:
        outcome = series_compute(item_id)
    except (AnalysisError, SoftTimeLimitExceeded) as exc:
        # Over the time limit the series fails naming it, never stays "processing".
        detail = _over_limit() if isinstance(exc, SoftTimeLimitExceeded) else str(exc)
        _set_series_state(
            item_id,
            run,
            status=Status.FAILED,
            status_detail=detail[:STATUS_DETAIL_MAX_LENGTH],
            computed_at=timezone.now(),
        )
        return "failed"
    return _store_series(item_id, run, outcome)


@dataclass
class SeriesOutcome:
    points: list[dict[str, Any]]
    fits: dict[str, tuple[Any, list[dict[str, Any]]]]  # kind -> (fit, its warnings)
    warnings: list[dict[str, Any]]
    inputs: dict[str, Any]
    status: str
    status_detail: str = ""


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _unusable_reason(m: Measurement, values: dict | None) -> tuple[str, bool] | None:
    """(why a measurement gives no point, whether a user's input would fix it), or None."""
    if m.status in (Status.QUEUED, Status.PROCESSING):
        return f"not used: the measurement is not processed yet ({m.get_status_display()})", False
    if m.status == Status.FAILED:
        # Cut at a word, never mid-word: the reason must stay readable.
        detail = textwrap.shorten(m.status_detail, 300, placeholder=" …")
        return f"not used: the measurement failed ({detail})", False
    if m.status == Status.NEEDS_INPUT:
        return f"not used: the measurement needs input ({m.status_detail})", True
    if m.temperature_c is None:
        return "not used: the measurement has no temperature", True
    sigma = (values or {}).get("conductivity_s_cm")
    if not sigma or sigma <= 0:
        missing = ", ".join((values or {}).get("missing") or []) or "a conductivity"
        return f"not used: no conductivity (the measurement lacks {missing})", True
    return None


def series_compute(item_id: int) -> SeriesOutcome:
    """Points, fits and warnings of the item's temperature series, from the database as it is
    now; nothing is written."""
    from .analysis import temperature

    measurements = list(
        Measurement.objects.filter(item_id=item_id, technique=Technique.EIS)
        .select_related("series_override__set_by")
        .order_by(F("temperature_c").asc(nulls_last=True), "id")
    )
    conductivity = {
        r.measurement_id: r.values
        for r in Result.objects.filter(
            measurement__in=[m.pk for m in measurements], kind="conductivity"
        )
    }
    points, usable, blocked = [], [], []
    for m in measurements:
        override = getattr(m, "series_override", None)
        values = conductivity.get(m.pk) if m.status in FINISHED_OK else None
        point = {
            "measurement": m.code,
            "temperature_c": m.temperature_c,
            "conductivity_s_cm": (values or {}).get("conductivity_s_cm"),
            "included": False,
            "usable": False,
            "choice": override.choice if override else "auto",
            "outlier": False,
            "check": None,
            "why": "",
            "doubtful": m.status == Status.DONE_WITH_WARNINGS,
        }
        points.append(point)
        reason = _unusable_reason(m, values)
        if reason is not None:
            point["why"], fixable = reason
            if fixable:
                blocked.append(f"{m.code}: {reason[0].removeprefix('not used: ')}")
            continue
        point["usable"] = True
        if override is not None and override.choice == "exclude":
            point["why"] = (
                f"excluded by {override.set_by or 'a deleted user'} ({_when(override.set_at)})"
            )
            continue
        usable.append((point, override))
    checks = (
        temperature.leave_one_out_outliers(
            [p["temperature_c"] for p, _ in usable],
            [p["conductivity_s_cm"] for p, _ in usable],
            keep=[i for i, (_, o) in enumerate(usable) if o is not None],
        )
        if usable
        else []
    )
    for (point, override), check in zip(usable, checks, strict=True):
        point["check"] = check.to_dict()
        point["outlier"] = check.outlier
        if override is not None:
            point["included"] = True
            by = f"included by {override.set_by or 'a deleted user'} ({_when(override.set_at)})"
            point["why"] = (
                f"{by}, although leave-one-out marks it an outlier: {check.describe()}"
                if check.outlier
                else by
            )
        elif check.outlier:
            point["why"] = f"excluded: outlier by leave-one-out, {check.describe()}"
        else:
            point["included"] = True
            point["why"] = "included"
    return _series_fits(points, blocked)


def _series_fits(points: list[dict], blocked: list[str]) -> SeriesOutcome:
    from .analysis import temperature

    included = [p for p in points if p["included"]]
    temperatures = [p["temperature_c"] for p in included]
    sigmas = [p["conductivity_s_cm"] for p in included]
    inputs = {
        "temperatures_c": temperatures,
        "conductivities_s_cm": sigmas,
        "measurements": [p["measurement"] for p in included],
        "excluded": [p["measurement"] for p in points if not p["included"]],
    }
    fits: dict[str, tuple[Any, list]] = {}
    distinct = len(set(temperatures))
    if distinct >= 3:
        for kind, form in (("arrhenius", "sigma"), ("arrhenius_sigma_t", "sigmaT")):
            fit = temperature.fit_arrhenius(temperatures, sigmas, form=form)
            fits[kind] = (fit, temperature.arrhenius_warnings(fit))
    if distinct >= 4:
        try:
            vft = temperature.fit_vft(temperatures, sigmas)
        except AnalysisError as exc:  # VFT needs curvature that Arrhenius-like data lack
            log.info("VFT fit skipped: %s", exc)
        else:
            # A T0 near absolute zero means the data are Arrhenius-like (a ceramic): the
            # VFT "pseudo" activation energy would then only restate the Arrhenius one.
            if vft.t0_k >= MIN_VFT_T0_K:
                fits["vft"] = (vft, temperature.vft_warnings(vft, temperatures))
    warnings = _series_warnings(points, distinct)
    if not fits and blocked:
        status = Status.NEEDS_INPUT
        detail = "No fit until these measurements have what they need: " + "; ".join(blocked)
    elif warnings or any(w for _, w in fits.values()):
        status, detail = Status.DONE_WITH_WARNINGS, ""
    else:
        status, detail = Status.DONE, ""
    return SeriesOutcome(points, fits, warnings, inputs, status, detail[:STATUS_DETAIL_MAX_LENGTH])


def _point_label(p: dict) -> str:
    t = p["temperature_c"]
    return f"{p['measurement']} ({t:g} °C)" if t is not None else p["measurement"]


def _series_warnings(points: list[dict], distinct: int) -> list[dict[str, Any]]:
    warnings = []
    n_included = sum(p["included"] for p in points)
    if distinct < 3:
        warnings.append(
            {
                "code": "too_few_points",
                "message": f"{n_included} point(s) at {distinct} distinct temperature(s) are "
                "included; an Arrhenius fit needs 3 temperatures or more (VFT 4), so there is "
                "no fit.",
            }
        )
    excluded = [p for p in points if not p["included"] and not p["why"].startswith("not used: ")]
    if excluded:
        listed = "; ".join(f"{_point_label(p)} {p['why']}" for p in excluded)
        warnings.append(
            {
                "code": "points_excluded",
                "message": f"{len(excluded)} of {len(points)} points are left out of the fits: "
                f"{listed}.",
            }
        )
    doubtful = [p["measurement"] for p in points if p["included"] and p["doubtful"]]
    if doubtful:
        warnings.append(
            quality.warning(
                "series_uses_doubtful_points",
                f"The fit uses {len(doubtful)} of {n_included} conductivities whose "
                f"measurements have warnings ({', '.join(doubtful)}): check those first.",
            )
        )
    unused = [
        p
        for p in points
        if p["why"].startswith("not used: ") and "not processed yet" not in p["why"]
    ]
    if unused:
        listed = "; ".join(f"{_point_label(p)} {p['why']}" for p in unused)
        warnings.append(
            {
                "code": "points_not_used",
                "message": f"{len(unused)} EIS measurement(s) give no point: {listed}.",
            }
        )
    return warnings


@transaction.atomic
def _store_series(item_id: int, run: int, outcome: SeriesOutcome) -> str:
    from .analysis import temperature

    # Lock the row: a newer request waits, and a stale run writes nothing.
    series = TemperatureSeries.objects.select_for_update().filter(item_id=item_id).first()
    if series is None or series.run != run:
        return "stale"
    if is_locked(item_id):
        return "locked"
    results_before = _result_rows(Result.objects.filter(item_id=item_id, measurement__isnull=True))
    Result.objects.filter(item_id=item_id, measurement__isnull=True).exclude(
        kind__in=outcome.fits
    ).delete()
    for kind, (fit, warnings) in outcome.fits.items():
        Result.objects.update_or_create(
            item_id=item_id,
            measurement=None,
            kind=kind,
            defaults={
                "values": fit.to_dict(),
                "inputs": outcome.inputs,
                "warnings": warnings,
                "algorithm_version": temperature.ALGORITHM_VERSION,
            },
        )
    record_event(
        "update",
        model="measurements.result",
        object_pk=f"series-{item_id}",
        object_repr=f"temperature-series fits of item {item_id} computed (run {run})",
        before={"bulk": True, "results": results_before},
        after={
            "bulk": True,
            "run": run,
            "results": _result_rows(
                Result.objects.filter(item_id=item_id, measurement__isnull=True)
            ),
        },
    )
    _set_series_state(
        item_id,
        run,
        status=outcome.status,
        status_detail=outcome.status_detail,
        points=jsonable(outcome.points),
        warnings=outcome.warnings,
        computed_at=timezone.now(),
    )
    return outcome.status
