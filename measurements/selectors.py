"""Reads for measurement pages: plot-ready data (downsampled), results by kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404

from . import storage
from .analysis import eis
from .models import STATUS_ATTENTION_ORDER, CycleRow, Measurement, RawFile, Result

MAX_PLOT_POINTS = 4000


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


def _thin(frame: pl.DataFrame) -> pl.DataFrame:
    step = max(1, frame.height // MAX_PLOT_POINTS)
    return frame.gather_every(step) if step > 1 else frame


def _floats(series) -> list:
    return [None if v is None or not np.isfinite(v) else float(v) for v in series]


def plot_data(measurement: Measurement) -> dict[str, Any] | None:
    """What the detail page plots, or None before the data are parsed."""
    if measurement.technique == "cycling":
        rows = list(
            CycleRow.objects.filter(measurement=measurement).values_list(
                "cycle", "charge_mAh_g", "discharge_mAh_g", "coulombic_efficiency"
            )
        )
        if not rows:
            return None
        cycle, charge, discharge, ce = (list(col) for col in zip(*rows, strict=True))
        return {
            "type": "cycling",
            "cycle": cycle,
            "charge": charge,
            "discharge": discharge,
            "ce_pct": [None if v is None else 100 * v for v in ce],
        }
    frame = parsed_frame(measurement)
    if frame is None:
        return None
    if measurement.technique == "eis":
        return _eis_plot(measurement, frame)
    frame = _thin(frame)
    if measurement.technique == "stripping":
        return {
            "type": "stripping",
            "t_h": _floats(frame["time_s"] / 3600),
            "v": _floats(frame["voltage_V"]),
        }
    if measurement.technique == "tga":
        return {
            "type": "tga",
            "t": _floats(frame["temperature_C"]),
            "m": _floats(frame["mass_pct"]),
        }
    return {"type": "xrd", "x": _floats(frame["two_theta_deg"]), "y": _floats(frame["intensity"])}


def _eis_plot(measurement: Measurement, frame: pl.DataFrame) -> dict[str, Any]:
    data = {"type": "eis", "zr": _floats(frame["z_real_ohm"]), "mzi": _floats(-frame["z_imag_ohm"])}
    fit = Result.objects.filter(measurement=measurement, kind="eis_fit").first()
    if fit is not None:
        params = {k: v["value"] for k, v in fit.values["parameters"].items()}
        freq = np.logspace(
            np.log10(frame["frequency_Hz"].max()), np.log10(frame["frequency_Hz"].min()), 200
        )
        z = eis.model_impedance(fit.values["model"], params, freq)
        data.update(
            fit_zr=_floats(z.real),
            fit_mzi=_floats(-z.imag),
            r_ionic=fit.values["ionic_resistance_ohm"],
        )
        kk = fit.values.get("linkk")
        if kk:  # Lin-KK residuals in % of |Z| against frequency
            data.update(
                kk_f=kk["frequency_hz"],
                kk_re=[100 * v for v in kk["residuals_real"]],
                kk_im=[100 * v for v in kk["residuals_imag"]],
            )
    return data
