"""The process-to-performance explorer: any column of a lineage table against any other, plotted
in the browser from the lineage-table API, so a script gets the same numbers from the URL the
page shows. The page's state is its address."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from rest_framework.exceptions import ValidationError

from .api import lineage_table
from .api.base import record_viewsets
from .models import ItemKind, ProcessStep, StepKind

# What to plot first for a kind of rows: a process parameter against a result.
DEFAULT_AXES = {
    "cell": ("pellet_sintering_temperature_c", "first_discharge_mAh_g", "notation"),
    "pellet": ("sintering_temperature_c", "conductivity_s_cm", ""),
    "spe_membrane": ("thickness_um", "conductivity_s_cm", ""),
}
AXES = ("x", "y", "color")
# The explorer asks for a page this large and follows `next` for more.
API_PAGE_SIZE = 1000


def _step_choices() -> list[tuple[str, str]]:
    return [
        (f"{kind}.{field}", f"{label} step: {ProcessStep._meta.get_field(field).verbose_name}")
        for kind, label in StepKind.choices
        for field in lineage_table.STEP_FIELDS
    ]


def _api_query(kind: str, params: QueryDict, filters: QueryDict) -> list[tuple[str, str]]:
    """The lineage-table query the page's state stands for (empty values left out)."""
    query = [("root_kind", kind)]
    for name in ("step", *lineage_table.TABLE_PARAMETERS.get(kind, {})):
        query.extend((name, v) for v in params.getlist(name) if v.strip())
    query.extend((k, v) for k, values in filters.lists() for v in values)
    return query


def explore(request: HttpRequest) -> HttpResponse:
    viewsets = record_viewsets()
    kinds = [(k, label) for k, label in ItemKind.choices if k in viewsets]
    kind = request.GET.get("root_kind") or ItemKind.CELL
    errors: dict[str, list[str]] = {}
    if kind not in viewsets:
        errors["root_kind"] = [f"'{kind}': choose one of {', '.join(k for k, _ in kinds)}."]
        kind = ItemKind.CELL
    filters = QueryDict(request.GET.get("filters", ""), mutable=True)
    clash = sorted(set(filters) & (lineage_table.RESERVED_PARAMS | set(AXES)))
    if clash:
        errors["filters"] = [f"{', '.join(clash)} cannot be a filter; use the fields above."]
        for name in clash:
            filters.pop(name)
    try:
        options = lineage_table.table_options(kind, request.GET)
    except ValidationError as exc:
        errors.update({k: [str(m) for m in v] for k, v in exc.detail.items()})
        options = lineage_table.TableOptions()
    labels = lineage_table.column_labels(kind, viewsets, options)
    defaults = DEFAULT_AXES.get(kind, (*list(labels)[2:4], ""))
    axes = {}
    for name, default in zip(AXES, defaults, strict=True):
        value = request.GET.get(name, default if name not in request.GET else "")
        if value and value not in labels:
            errors[name] = [f"'{value}' is not a column of {ItemKind(kind).label} rows."]
            value = default
        axes[name] = value
    query = _api_query(kind, request.GET, filters)
    api_url = "/api/lineage-table/?" + urlencode(query)
    context = {
        "kinds": kinds,
        "kind": kind,
        "labels": labels,
        "axes": axes,
        "parameters": [
            (p, ", ".join(request.GET.getlist(p.name)))
            for p in lineage_table.TABLE_PARAMETERS.get(kind, {}).values()
        ],
        "step_choices": _step_choices(),
        "steps": [f"{k}.{f}" for k, f in options.steps],
        "filters": filters.urlencode(),
        "errors": errors,
        "error_list": list(errors.items()),
        "api_url": api_url,
        "csv_url": "/api/lineage-table/?"
        + urlencode([*query, ("page_size", API_PAGE_SIZE), ("format", "csv")]),
        "fetch_url": "/api/lineage-table/?" + urlencode([*query, ("page_size", API_PAGE_SIZE)]),
        "axis_labels": [labels[axes[a]] for a in AXES if axes[a]],
        "state": {"axes": axes, "labels": labels, "csv_rows": API_PAGE_SIZE},
    }
    return render(request, "lims/explore.html", context, status=400 if errors else 200)
