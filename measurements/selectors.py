"""Reads for measurement pages: plot payloads (thinned, cached), parsed data, results by kind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import polars as pl
from django.db.models import Case, Count, F, IntegerField, Min, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404

from core import permissions

from . import plot_payload, storage
from .models import (
    FINISHED_OK,
    STATUS_ATTENTION_ORDER,
    CycleRow,
    Measurement,
    RawFile,
    Result,
    TemperatureSeries,
)


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


def raw_file_for_download(sha256: str, user=None) -> tuple[RawFile, BinaryIO]:
    """A stored raw file and its bytes open for reading, checked against its SHA-256 first;
    404 when no such file was uploaded (or, with `user`, none of `user`'s projects has a
    measurement that uses it), ``storage.Damaged`` (the views answer 409 with its
    reason) when its bytes are gone or no longer hash to its name: never the damaged bytes."""
    raw = RawFile.objects.filter(sha256=sha256.lower()).first()
    if raw is not None and user is not None and permissions.project_ids(user) is not None:
        uses = permissions.scope(raw.uses.all(), user, "measurement__item__project")
        raw = raw if uses.exists() else None
    if raw is None:
        raise Http404("No raw file with this SHA-256.")
    return raw, storage.open_verified(raw.sha256, raw.original_name)


def status_counts() -> dict[str, dict[str, tuple[int, Any]]]:
    """Measurements and temperature series by status, with each status's earliest moment
    (one grouped query per table, for /metrics). A measurement's moment is when it last
    finished, or was created: the latest time known before it was queued, so the age of a
    queued one is exact for a first run and an upper bound for a re-run. A series's is its last
    save, which queuing it is."""
    measurements = Measurement.objects.order_by().values("status")
    series = TemperatureSeries.objects.order_by().values("status")
    return {
        "measurement": {
            row["status"]: (row["n"], row["since"])
            for row in measurements.annotate(
                n=Count("pk"), since=Min(Coalesce("processed_at", "created_at"))
            )
        },
        "temperature_series": {
            row["status"]: (row["n"], row["since"])
            for row in series.annotate(n=Count("pk"), since=Min("updated_at"))
        },
    }


@dataclass
class FixityProblem:
    sha256: str
    path: str
    actual: str | None  # None: the object is missing
    measurements: list[str]


def fixity_problems() -> Iterator[FixityProblem]:
    """Re-hash every stored raw file; yield those whose bytes are gone or changed, with the
    codes of the measurements that use them."""
    for raw in RawFile.objects.order_by("pk").iterator():
        actual = storage.actual_hash(raw.sha256)
        if actual == raw.sha256:
            continue
        yield FixityProblem(
            sha256=raw.sha256,
            path=storage.where(storage.raw_key(raw.sha256)),
            actual=actual,
            measurements=[m.code for m in measurements_using(raw.sha256)],
        )


def measurements_using(sha256: str):
    return Measurement.objects.filter(files__raw_file__sha256=sha256).distinct().order_by("code")


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
        try:
            frames.append(storage.read_parquet(link.parsed_path))
        except FileNotFoundError:
            return None
    if not frames:
        return None
    from .compute import join_continuations

    return join_continuations(frames) if measurement.technique != "eis" else frames[0]


def parsed_keys(measurement: Measurement) -> list[str] | None:
    """The stored Parquet objects that make up the measurement's canonical data, in order
    (what `parsed_frame` joins; an EIS measurement's spectrum is its first file), for reading
    in batches (`data_out.StoredSeries`) or serving as they are; None while a file is not
    parsed."""
    links = list(measurement.files.all())
    if not links or any(not link.parsed_path for link in links):
        return None
    keys = [link.parsed_path for link in links]
    return keys[:1] if measurement.technique == "eis" else keys


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


# --- Side-by-side comparison of several items (the compare page) ---

MAX_PLOT_POINTS = 4000


def _thin(frame: pl.DataFrame, points: int = MAX_PLOT_POINTS) -> pl.DataFrame:
    """Every n-th row, so that at most `points` rows remain."""
    step = max(1, -(-frame.height // points))
    return frame.gather_every(step) if step > 1 else frame


def _floats(series) -> list:
    return [None if v is None or not np.isfinite(v) else float(v) for v in series]


COMPARE_PROFILE_POINTS = 300
COMPARE_SPECTRUM_POINTS = 300


def _finished(items, technique: str, *order) -> list[Measurement]:
    """The items' finished measurements of a technique, with their files (for parsed_frame),
    in the order the items were given."""
    position = {item.pk: i for i, item in enumerate(items)}
    found = (
        Measurement.objects.filter(item__in=items, technique=technique, status__in=FINISHED_OK)
        .prefetch_related("files")
        .order_by(*order, "id")
    )
    return sorted(found, key=lambda m: position[m.item_id])  # stable: keeps `order` within


def _trace_names(items, measurements: list[Measurement]) -> dict[int, str]:
    """A trace is named by its item's code, and by the measurement's too when the item has
    several measurements on the plot."""
    codes = {i.pk: i.code for i in items}
    per_item: dict[int, int] = {}
    for m in measurements:
        per_item[m.item_id] = per_item.get(m.item_id, 0) + 1
    return {
        m.pk: codes[m.item_id] if per_item[m.item_id] == 1 else f"{codes[m.item_id]} ({m.code})"
        for m in measurements
    }


def compare_cycling(items, cycle: int) -> dict[str, Any]:
    """Capacity and retention against cycle for each finished cycling measurement of the items
    (from the per-cycle table), and the voltage profile of `cycle` of each (from the parsed
    data, thinned). Retention is against the reference cycle the measurement's summary used."""
    measurements = _finished(items, "cycling")
    summaries = {
        r.measurement_id: r
        for r in Result.objects.filter(measurement__in=measurements, kind="cycling_summary")
    }
    rows: dict[int, list] = {}
    for row in CycleRow.objects.filter(measurement__in=measurements).values_list(
        "measurement_id", "cycle", "discharge_mAh_g"
    ):
        rows.setdefault(row[0], []).append(row[1:])
    names = _trace_names(items, measurements)
    codes = {i.pk: i.code for i in items}
    capacity, profiles, problems = [], [], []
    for m in measurements:
        table = rows.get(m.pk)
        summary = summaries.get(m.pk)
        if not table or summary is None:  # no specific capacity without an active mass
            continue
        cycles, discharge = (list(c) for c in zip(*table, strict=True))
        reference = summary.inputs.get("reference_cycle") or 1
        ref_q = dict(table).get(reference)
        capacity.append(
            {
                "name": names[m.pk],
                "item": codes[m.item_id],
                "cycle": cycles,
                "discharge_mAh_g": _floats(discharge),
                "retention_pct": [
                    None if q is None or not ref_q else 100.0 * q / ref_q for q in discharge
                ],
                "reference_cycle": reference,
            }
        )
        profile = _voltage_profile(m, summary, cycle, cycles)
        if isinstance(profile, str):
            problems.append(f"{names[m.pk]}: {profile}")
        else:
            profiles.append({"name": names[m.pk], **profile})
    return {"capacity": capacity, "profiles": profiles, "profile_problems": problems}


def _voltage_profile(m: Measurement, summary: Result, cycle: int, cycles: list[int]):
    """{capacity_mAh_g, voltage_V} of one cycle (charge, a gap, then discharge, so one trace
    per cell), or why there is none."""
    from .analysis import AnalysisError, cycling

    if cycle not in cycles:
        return f"no cycle {cycle} (cycles {min(cycles)}–{max(cycles)})"
    frame = parsed_frame(m)
    if frame is None:
        return "the parsed data are missing from the store; re-run the measurement"
    offset = int(summary.inputs.get("instrument_cycle_offset") or 0)
    try:
        profile = cycling.cycle_profile(
            frame, cycle - offset, summary.inputs["active_mass_mg"] / 1000
        )
    except AnalysisError as exc:
        return str(exc)
    capacity: list = []
    voltage: list = []
    for direction in (1, -1):
        half = _thin(profile.filter(pl.col("direction") == direction), COMPARE_PROFILE_POINTS)
        if capacity and half.height:
            capacity.append(None)  # a gap: the discharge starts again from zero
            voltage.append(None)
        capacity.extend(_floats(half["capacity_mAh_g"]))
        voltage.extend(_floats(half["voltage_V"]))
    return {"capacity_mAh_g": capacity, "voltage_V": voltage}


def compare_spectra(items) -> list[dict[str, Any]]:
    """One Nyquist trace per finished EIS measurement of the items (thinned), with the ionic
    resistance its fit found."""
    measurements = _finished(items, "eis", F("temperature_c").asc(nulls_last=True))
    codes = {i.pk: i.code for i in items}
    ionic = {
        r.measurement_id: r.values.get("ionic_resistance_ohm")
        for r in Result.objects.filter(measurement__in=measurements, kind="eis_fit")
    }
    traces = []
    for m in measurements:
        frame = parsed_frame(m)
        if frame is None:
            continue
        frame = _thin(frame, COMPARE_SPECTRUM_POINTS)
        where = f" at {m.temperature_c:g} °C" if m.temperature_c is not None else ""
        traces.append(
            {
                "name": f"{codes[m.item_id]} {m.code}{where}",
                "item": codes[m.item_id],
                "zr": _floats(frame["z_real_ohm"]),
                "mzi": _floats(-frame["z_imag_ohm"]),
                # where the fit puts the electrolyte's arcs: the page frames them, not the spike
                "r_ionic": ionic.get(m.pk),
            }
        )
    return traces


ARRHENIUS_FIT_POINTS = 50


def compare_arrhenius(items) -> list[dict[str, Any]]:
    """log10 σ against 1000/T of each item's temperature-series points that its fits use, with
    the Arrhenius fit (σ form) and, where the data curve, the VFT fit over the same range."""
    from .analysis import temperature

    series = {
        s.item_id: s.points
        for s in TemperatureSeries.objects.filter(item__in=items).only("item_id", "points")
    }
    fits: dict[int, dict[str, dict]] = {}
    for r in Result.objects.filter(
        item__in=items, measurement__isnull=True, kind__in=("arrhenius", "vft")
    ):
        fits.setdefault(r.item_id, {})[r.kind] = r.values
    out = []
    for item in items:
        points = [
            p
            for p in series.get(item.pk) or []
            if p.get("included")
            and p.get("conductivity_s_cm")
            and p.get("temperature_c") is not None
        ]
        if not points:
            continue
        t = np.array([p["temperature_c"] for p in points], dtype=float)
        sigma = np.array([p["conductivity_s_cm"] for p in points], dtype=float)
        entry: dict[str, Any] = {
            "item": item.code,
            "x": _floats(1000.0 / (t + temperature.ZERO_CELSIUS_K)),
            "log_sigma": _floats(np.log10(sigma)),
            "measurements": [p["measurement"] for p in points],
            "fits": [],
        }
        grid = np.linspace(t.min(), t.max(), ARRHENIUS_FIT_POINTS)
        x = _floats(1000.0 / (grid + temperature.ZERO_CELSIUS_K))
        found = fits.get(item.pk, {})
        if "arrhenius" in found:
            ea = found["arrhenius"]["activation_energy_eV"]
            entry["fits"].append(
                {
                    "name": f"{item.code} Arrhenius, Ea = {ea:.3f} eV",
                    "x": x,
                    "log_sigma": _floats(
                        np.log10(temperature.arrhenius_sigma(found["arrhenius"], grid))
                    ),
                }
            )
        if "vft" in found:
            ea = found["vft"]["pseudo_activation_energy_eV"]
            entry["fits"].append(
                {
                    "name": f"{item.code} VFT, pseudo-Ea = {ea:.3f} eV",
                    "x": x,
                    "log_sigma": _floats(np.log10(temperature.vft_sigma(found["vft"], grid))),
                }
            )
        out.append(entry)
    return out


def comparison(items, cycle: int) -> dict[str, Any]:
    """Everything the comparison page plots for these items, and which items have none of it."""
    cycling_data = compare_cycling(items, cycle)
    data = {
        **cycling_data,
        "nyquist": compare_spectra(items),
        "arrhenius": compare_arrhenius(items),
        "cycle": cycle,
    }
    shown = {
        "capacity": {t["item"] for t in data["capacity"]},
        "nyquist": {t["item"] for t in data["nyquist"]},
        "arrhenius": {t["item"] for t in data["arrhenius"]},
    }
    data["lacking"] = {
        key: [i.code for i in items if i.code not in codes] for key, codes in shown.items()
    }
    data["nothing"] = [i.code for i in items if not any(i.code in c for c in shown.values())]
    return data
