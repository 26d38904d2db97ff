"""Reads for measurement pages: plot payloads (thinned, cached), parsed data, results by kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404

from . import plot_payload, storage
from .models import STATUS_ATTENTION_ORDER, Measurement, RawFile, Result


def with_related(queryset=None):
    queryset = queryset if queryset is not None else Measurement.objects.all()
    return queryset.select_related("item", "created_by")


def attention_first(queryset):
    """Measurements with doubtful numbers first, then those waiting for an input, failed,
    running, and finally the plainly done ones; newest first within each."""
    rank = Case(
        *(When(status=status, then=Value(i)) for i, status in enumerate(STATUS_ATTENTION_ORDER)),
        default=Value(len(STATUS_ATTENTION_ORDER)),
        output_field=IntegerField(),
    )
    return queryset.annotate(attention=rank).order_by("attention", "-id")


def raw_file_for_download(sha256: str) -> tuple[RawFile, Path]:
    """A stored raw file and where its bytes are; 404 when either is missing."""
    raw = RawFile.objects.filter(sha256=sha256.lower()).first()
    if raw is None:
        raise Http404("No raw file with this SHA-256.")
    path = storage.raw_path(raw.sha256)
    if not path.exists():
        raise Http404("The raw file is missing from the store.")
    return raw, path


def warnings_of(measurement: Measurement) -> list[dict]:
    """Every warning of the measurement's results, each with the result it belongs to."""
    return [
        {**w, "result": r.get_kind_display()}
        for r in measurement.results.all()
        for w in (r.warnings or [])
    ]


def results_by_kind(measurement: Measurement) -> dict[str, Result]:
    return {r.kind: r for r in measurement.results.all()}


def parsed_frame(measurement: Measurement) -> pl.DataFrame | None:
    """The measurement's canonical data (all files, in order) from the Parquet store."""
    frames = []
    for link in measurement.files.all():
        if not link.parsed_path:
            return None
        path = storage.root() / link.parsed_path
        if not path.exists():
            return None
        frames.append(pl.read_parquet(path))
    if not frames:
        return None
    from .compute import join_continuations

    return join_continuations(frames) if measurement.technique != "eis" else frames[0]


def plot_data(measurement: Measurement, cycles: str | None = None) -> dict[str, Any] | None:
    """What the measurement's plots show (``plot_payload``), from the cache when this run's
    payload was built before; None while there is nothing to plot (not processed, failed, or
    the parsed data gone). ``cycles`` is the user's choice of cycles for the voltage and
    dQ/dV plots of a cycling test, as typed ("1,50,200"); ``plot_payload.PlotInputError``
    when it cannot be used."""
    if measurement.status not in plot_payload.SHOWS_PLOT:
        return None
    technique_cycles = measurement.technique == "cycling"
    available = plot_payload.available_cycles(measurement) if technique_cycles else []
    chosen, missing = (
        plot_payload.choose_cycles(cycles, available) if technique_cycles else ([], [])
    )
    links = list(measurement.files.select_related("raw_file"))
    if not links or any(not link.parsed_path for link in links):
        return None
    path = plot_payload.cache_path(measurement, links, chosen)
    payload = plot_payload.read_cache(path)
    if payload is None:
        frame = parsed_frame(measurement)
        if frame is None:
            return None
        payload = plot_payload.build(measurement, frame, chosen)
        plot_payload.write_cache(path, payload)
    if missing:  # asked for, not in the test: the page and the API say so
        payload["cycles"]["missing"] = missing
    return payload
