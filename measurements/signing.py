"""What a signature of an item covers of its measurements (core.signatures calls these
through its registries; the core does not import this app)."""

from __future__ import annotations

from typing import Any

from .models import Measurement, MeasurementFile, Result, Status, TemperatureSeries
from .services import EDITABLE

# The measurement's settings a result is computed from and what the person recorded (the
# fields its service lets them edit), with its code and processing state.
SIGNED_FIELDS = ("code", *EDITABLE, "status", "status_detail")


def _result(r: Result) -> dict[str, Any]:
    # Units are in the value names (`conductivity_s_cm`, `capacity_mAh_g`).
    return {
        "kind": r.kind,
        "values": r.values,
        "warnings": r.warnings,
        "algorithm_version": r.algorithm_version,
    }


def canonical_measurements(item) -> dict[str, Any]:
    """The item's measurements (settings, status, raw files by SHA-256, results) and its
    temperature-series fits."""
    measurements = list(Measurement.objects.filter(item_id=item.pk).order_by("code"))
    ids = [m.pk for m in measurements]
    files: dict[int, list] = {pk: [] for pk in ids}
    for link in (
        MeasurementFile.objects.filter(measurement_id__in=ids)
        .select_related("raw_file")
        .order_by("position", "id")
    ):
        files[link.measurement_id].append(
            {
                "filename": link.filename,
                "sha256": link.raw_file.sha256,
                "size_bytes": link.raw_file.size_bytes,
            }
        )
    results: dict[int | None, list] = {pk: [] for pk in ids}
    results[None] = []
    for r in Result.objects.filter(item_id=item.pk).order_by("kind", "id"):
        results.setdefault(r.measurement_id, []).append(_result(r))
    return {
        "measurements": [
            {
                **{name: getattr(m, name) for name in SIGNED_FIELDS},
                "files": files[m.pk],
                "results": results[m.pk],
            }
            for m in measurements
        ],
        "series_results": results[None],
    }


def unfinished(item_ids: list[int]) -> list[str]:
    """Measurements (and temperature series) of these items still queued or processing: their
    results are not there yet, so the record is not finished."""
    waiting = (Status.QUEUED, Status.PROCESSING)
    series = [
        f"the temperature series of {code} is {status}"
        for code, status in TemperatureSeries.objects.filter(
            item_id__in=item_ids, status__in=waiting
        ).values_list("item__code", "status")
    ]
    return series + [
        f"{code} of {item_code} is {status}"
        for code, item_code, status in Measurement.objects.filter(
            item_id__in=item_ids, status__in=(Status.QUEUED, Status.PROCESSING)
        )
        .order_by("code")
        .values_list("code", "item__code", "status")
    ]
