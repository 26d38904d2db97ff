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
from collections.abc import Iterable
from typing import Any

import polars as pl
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from lims.services import allocate_code, apply_changes

from . import compute, parsers, storage
from .analysis import AnalysisError, quality
from .models import (
    STATUS_DETAIL_MAX_LENGTH,
    CycleRow,
    Measurement,
    MeasurementFile,
    RawFile,
    Result,
    Status,
    Technique,
)

log = logging.getLogger(__name__)
PARSE_CACHE_VERSION = "1"
MIN_VFT_T0_K = 50.0  # bump when a parser's output changes, to re-parse stored files
MAX_UPLOAD_BYTES = settings.LIMS_MAX_UPLOAD_BYTES


# --- raw files ---------------------------------------------------------------------------------


def raw_file_store(stream, *, filename: str, user=None) -> tuple[RawFile, bool]:
    """Keep an upload under its SHA-256; the same bytes uploaded again are recognised."""
    sha, size = storage.store_stream(stream, limit=MAX_UPLOAD_BYTES)
    existing = RawFile.objects.filter(sha256=sha).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            raw = RawFile.objects.create(
                sha256=sha,
                size_bytes=size,
                original_name=filename[:255],
                storage_path=str(storage.raw_path(sha).relative_to(storage.root())),
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
    "reference_cycle",
    "parser",
    "options",
    "notes",
)


@transaction.atomic
def measurement_create(
    *, user=None, item, fields: dict[str, Any], uploads: Iterable = ()
) -> Measurement:
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
    measurement: Measurement, *, kind: str, mapping: dict[str, str]
) -> Measurement:
    """Process the measurement's file as a generic CSV with the column mapping a user
    confirmed; unit scale factors follow from the column names (e.g. `I [A]` -> x1000 mA)."""
    from .parsers import generic_csv

    options = {"kind": kind, "mapping": mapping, "units": generic_csv.suggest_units(mapping)}
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
def measurement_reprocess(measurement: Measurement) -> int:
    """Queue a fresh run; the task is sent only once this transaction commits."""
    from .tasks import process_measurement

    Measurement.objects.filter(pk=measurement.pk).update(
        run=F("run") + 1, status=Status.QUEUED, progress=0, status_detail=""
    )
    measurement.refresh_from_db(fields=["run", "status", "progress", "status_detail"])
    run, pk = measurement.run, measurement.pk
    transaction.on_commit(lambda: process_measurement.delay(pk, run))
    return run


def dependent_measurements(item_id: int):
    """Measurements whose inputs come from this item: its own, and those of the pieces that
    take their thickness from it (an SPE membrane's pieces without a thickness of their own)."""
    from synthesis.models import MembranePiece

    pieces = MembranePiece.objects.filter(membrane_id=item_id, measured_thickness_um__isnull=True)
    return Measurement.objects.filter(Q(item_id=item_id) | Q(item_id__in=pieces.values("pk")))


def reprocess_item_measurements(item_id: int) -> int:
    """An item's geometry or mass changed: recompute every measurement that used it."""
    count = 0
    for measurement in dependent_measurements(item_id):
        measurement_reprocess(measurement)
        count += 1
    return count


# --- the pipeline (run by a worker) ----------------------------------------------------------


def _set_state(pk: int, run: int, **fields) -> bool:
    """Update the measurement's state if it is still on this run."""
    return Measurement.objects.filter(pk=pk, run=run).update(**fields) > 0


def process_measurement(measurement_id: int, run: int) -> str:
    measurement = Measurement.objects.select_related("item").filter(pk=measurement_id).first()
    if measurement is None or measurement.run != run:
        return "stale"  # deleted, or a newer run was requested after this one was queued
    _set_state(measurement_id, run, status=Status.PROCESSING, progress=1, status_detail="")
    try:
        finished = _run_pipeline(measurement, run)
    except (parsers.ParseError, AnalysisError) as exc:
        _set_state(
            measurement_id,
            run,
            status=Status.FAILED,
            status_detail=str(exc)[:STATUS_DETAIL_MAX_LENGTH],
            processed_at=timezone.now(),
        )
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
    if finished is None:
        return "stale"
    return finished  # the status it finished with: done, done_with_warnings or needs_input


def _run_pipeline(measurement: Measurement, run: int):
    links = list(measurement.files.select_related("raw_file"))
    frames, kinds = [], []
    for index, link in enumerate(links):
        frame, kind = _parsed(measurement, link)
        frames.append((link.filename, frame))
        kinds.append(kind)
        _set_state(measurement.pk, run, progress=10 + int(60 * (index + 1) / len(links)))
    inputs = measurement_inputs(measurement)
    outcome = compute.compute(measurement.technique, frames, kinds, inputs)
    _set_state(measurement.pk, run, progress=85)
    return _store_results(measurement, run, outcome)


def _options_key(options: dict) -> str:
    if not options:
        return PARSE_CACHE_VERSION
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:10]
    return f"{PARSE_CACHE_VERSION}-{digest}"


def _parsed(measurement: Measurement, link: MeasurementFile) -> tuple[pl.DataFrame, str]:
    """The file's canonical data: from the Parquet cache, or parsed now and cached."""
    raw = link.raw_file
    path = storage.raw_path(raw.sha256)
    options = measurement.options or {}
    parser_name = measurement.parser or link.parser or ""
    cached = (
        storage.parsed_path(raw.sha256, parser_name, _options_key(options)) if parser_name else None
    )
    if cached is not None and cached.exists() and link.metadata.get("kind"):
        return storage.read_parquet(cached), link.metadata["kind"]
    try:
        parsed = parsers.parse_file(
            path, filename=link.filename, parser_name=parser_name or None, options=options or None
        )
    except parsers.ParseError as exc:
        raise parsers.ParseError(f"{link.filename}: {exc}") from None
    name = parsed.metadata.get("parser", parser_name)
    target = storage.parsed_path(raw.sha256, name, _options_key(options))
    storage.write_parquet(parsed.data, target)
    MeasurementFile.objects.filter(pk=link.pk).update(
        parser=name,
        parsed_path=str(target.relative_to(storage.root())),
        parsed_rows=parsed.data.height,
        warnings=parsed.warnings,
        metadata={**{k: v for k, v in parsed.metadata.items()}, "kind": parsed.kind},
    )
    return parsed.data, parsed.kind


def measurement_inputs(measurement: Measurement) -> dict[str, Any]:
    """The geometry and masses a computation uses: the measurement's own values first, then
    the sample's (pellet thickness and area, membrane thickness, cell active mass and area)."""
    item = measurement.item.specific
    thickness_um = measurement.thickness_um
    if thickness_um is None:
        if getattr(item, "thickness_mm", None):
            thickness_um = item.thickness_mm * 1000
        elif getattr(item, "thickness_um", None):
            thickness_um = item.thickness_um
    area = (
        measurement.area_cm2
        or getattr(item, "active_area_cm2", None)
        or getattr(item, "area_cm2", None)
    )
    mass = measurement.active_mass_mg or getattr(item, "active_mass_mg", None)
    return {
        "thickness_um": thickness_um,
        "area_cm2": area,
        "active_mass_mg": mass,
        "temperature_c": measurement.temperature_c,
        "eis_model": measurement.eis_model,
        "reference_cycle": measurement.reference_cycle,
        "instrument": measurement.instrument,
        "active_material": active_material(item),
    }


def active_material(item) -> str | None:
    """The active material of a cell's positive electrode (or of a disk or coating measured
    on its own) as a key of the theoretical-capacity table, from the coating's active
    material lot; None when the records do not say or the material is not in the table."""
    from synthesis.models import CathodeCoating, ElectrodeDisk

    coatings = []
    if isinstance(item, CathodeCoating):
        coatings = [item]
    elif isinstance(item, ElectrodeDisk):
        coatings = [item.coating]
    elif item.kind == "cell":
        for layer in item.layers.filter(side="positive").select_related("item"):
            piece = layer.item.specific
            if isinstance(piece, ElectrodeDisk):
                coatings.append(piece.coating)
    keys = set()
    for coating in coatings:
        chemical = coating.active_lot.chemical
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
    if outcome.per_cycle is not None:
        CycleRow.objects.bulk_create(_cycle_rows(current, outcome.per_cycle), batch_size=2000)
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
        from .tasks import update_temperature_series

        item_id = current.item_id
        transaction.on_commit(lambda: update_temperature_series.delay(item_id))
    return str(status)


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


@transaction.atomic
def update_temperature_series(item_id: int) -> list[str]:
    """Arrhenius (σ and σT forms) and VFT fits over the sample's EIS measurements at different
    temperatures; removed again when fewer than the fits need remain."""
    from .analysis import temperature

    points = {}
    for result in (
        Result.objects.filter(
            item_id=item_id,
            kind="conductivity",
            measurement__status__in=(Status.DONE, Status.DONE_WITH_WARNINGS),
            measurement__temperature_c__isnull=False,
        )
        .select_related("measurement")
        .order_by("measurement_id")
    ):
        sigma = result.values.get("conductivity_s_cm")
        if sigma:
            points[result.measurement.temperature_c] = (
                sigma,
                result.measurement.code,
                result.measurement.status == Status.DONE_WITH_WARNINGS,
            )
    temperatures = sorted(points)
    sigmas = [points[t][0] for t in temperatures]
    inputs = {
        "temperatures_c": temperatures,
        "conductivities_s_cm": sigmas,
        "measurements": [points[t][1] for t in temperatures],
    }
    fits: dict[str, Any] = {}
    if len(temperatures) >= 3:
        fits["arrhenius"] = temperature.fit_arrhenius(temperatures, sigmas, form="sigma")
        fits["arrhenius_sigma_t"] = temperature.fit_arrhenius(temperatures, sigmas, form="sigmaT")
    if len(temperatures) >= 4:
        try:
            vft = temperature.fit_vft(temperatures, sigmas)
        except AnalysisError as exc:  # VFT needs curvature that Arrhenius-like data lack
            log.info("VFT fit of item %s skipped: %s", item_id, exc)
        else:
            # A T0 near absolute zero means the data are Arrhenius-like (a ceramic): the
            # VFT "pseudo" activation energy would then only restate the Arrhenius one.
            if vft.t0_k >= MIN_VFT_T0_K:
                fits["vft"] = vft
    doubtful = [points[t][1] for t in temperatures if points[t][2]]
    warnings = (
        [
            quality.warning(
                "series_uses_doubtful_points",
                f"The fit uses {len(doubtful)} of {len(temperatures)} conductivities whose "
                f"measurements have warnings ({', '.join(doubtful)}): check those first.",
            )
        ]
        if doubtful
        else []
    )
    Result.objects.filter(item_id=item_id, measurement__isnull=True).exclude(kind__in=fits).delete()
    for kind, fit in fits.items():
        Result.objects.update_or_create(
            item_id=item_id,
            measurement=None,
            kind=kind,
            defaults={
                "values": fit.to_dict(),
                "inputs": inputs,
                "warnings": warnings,
                "algorithm_version": temperature.ALGORITHM_VERSION,
            },
        )
    return sorted(fits)
