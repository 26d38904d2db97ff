"""The home page's measurement panels (registered in the core, which cannot import us): what
needs a look, what is being processed (polled), and plots of recent results."""

from __future__ import annotations

from collections import OrderedDict

from django.http import HttpRequest

from core import headlines, permissions

from . import selectors
from .headlines import LOG_SIGMA_AXIS, conductivity_points
from .models import CycleRow, Measurement, Result, ResultKind, Status

ATTENTION = (Status.FAILED, Status.NEEDS_INPUT, Status.DONE_WITH_WARNINGS)
RUNNING = (Status.QUEUED, Status.PROCESSING)
SHOWN = 20  # rows per panel; the measurement list has the rest
RECENT_SIGMAS = 60
RECENT_CELLS = 5


def _mine(request: HttpRequest | None):
    """The measurements of the user's projects (every one without a request: a script)."""
    measurements = Measurement.objects.all()
    if request is None:
        return measurements
    return permissions.scope(measurements, request.user, "item__project")


def attention_context(request: HttpRequest) -> dict:
    rows = selectors.attention_first(
        selectors.with_related(_mine(request).filter(status__in=ATTENTION))
    ).prefetch_related("results")
    total = rows.count()
    rows = list(rows[:SHOWN])
    for m in rows:
        m.result_warnings = selectors.warnings_of(m)
    return {"rows": rows, "total": total, "statuses": ATTENTION}


def running_context(request: HttpRequest | None = None) -> dict:
    queryset = selectors.with_related(_mine(request).filter(status__in=RUNNING)).order_by("id")
    return {"rows": list(queryset[:SHOWN]), "total": queryset.count()}


def _recent_conductivities(user) -> dict | None:
    """σ against 1000/T of the newest conductivities, one trace per sample (log σ)."""
    newest = Result.objects.filter(
        pk__in=permissions.scope(Result.objects.all(), user, "item__project")
        .filter(kind=ResultKind.CONDUCTIVITY, measurement__temperature_c__isnull=False)
        .order_by("-computed_at", "-id")
        .values("pk")[:RECENT_SIGMAS]
    )
    # Newest sample first in the legend.
    by_item = conductivity_points(newest.order_by("-computed_at", "-id"))
    if not by_item:
        return None
    traces = []
    for code, points in by_item.items():
        traces.append(
            {
                "x": [1000 / (t + 273.15) for t, _ in points],
                "y": [s for _, s in points],
                "text": [f"{code}, {t:g} °C" for t, _ in points],
                "mode": "lines+markers",
                "name": code,
            }
        )
    return {
        "traces": traces,
        "layout": {
            "xaxis": {"title": "1000/T (1/K)"},
            "yaxis": LOG_SIGMA_AXIS,
        },
    }


def _recent_capacities(user) -> dict | None:
    """Discharge capacity against cycle of the newest cycling measurements."""
    newest = list(
        permissions.scope(Measurement.objects.all(), user, "item__project")
        .filter(technique="cycling", cycles__isnull=False)
        .distinct()
        .order_by("-id")
        .values_list("id", flat=True)[:RECENT_CELLS]
    )
    rows = (
        CycleRow.objects.filter(measurement_id__in=newest)
        .order_by("-measurement_id", "cycle")
        .values_list("measurement__code", "measurement__item__code", "cycle", "discharge_mAh_g")
    )
    series: OrderedDict[tuple, list] = OrderedDict()
    for code, item, cycle, discharge in rows:
        series.setdefault((item, code), []).append((cycle, discharge))
    if not series:
        return None
    return {
        "traces": [
            {
                "x": [c for c, _ in points],
                "y": [d for _, d in points],
                "mode": "markers",
                "marker": {"size": 4},
                "name": f"{item} ({code})",
            }
            for (item, code), points in series.items()
        ],
        "layout": {
            "xaxis": {"title": "cycle"},
            "yaxis": {"title": "discharge capacity (mAh/g)", "rangemode": "tozero"},
        },
    }


def plots_context(request: HttpRequest) -> dict | None:
    plots = [
        (name, title, plot)
        for name, title, plot in (
            (
                "recent-conductivities",
                "Recent conductivities",
                _recent_conductivities(request.user),
            ),
            ("recent-capacities", "Recent cycling", _recent_capacities(request.user)),
        )
        if plot is not None
    ]
    return {"plots": plots} if plots else None


def register() -> None:
    headlines.register_panel(
        headlines.Panel("attention", "measurements/_dash_attention.html", attention_context, 10)
    )
    headlines.register_panel(
        headlines.Panel("running", "measurements/_dash_running.html", running_context, 20)
    )
    headlines.register_panel(
        headlines.Panel("result-plots", "measurements/_dash_plots.html", plots_context, 90)
    )
