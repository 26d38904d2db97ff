"""The results a sample or a cell is known by, defined once for every place that shows them:
the item page's headline (with a small plot), the columns of the web lists (sortable, in the
database) and the API's lineage tables (`measurements.api.tables`).

Which result an item's row shows, when it has several of a kind: for conductivity the one
measured nearest 25 °C (with a value), otherwise the newest. `_ranked` is that rule, used both
by the SQL annotation the lists sort by and by the Python pick of the item page and the
lineage table, so they always agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Abs, Cast

from core import display, headlines
from core.models import Item
from core.tables import Column

from . import selectors
from .models import CycleRow, Measurement, Result, ResultKind, Technique

ROOM_TEMPERATURE_C = 25.0
BOLTZMANN_EV_K = 8.617333262e-5
# σ spans decades: a log axis, every tick written as 3e-4 (Plotly's default labels only 1e-3).
LOG_SIGMA_AXIS = {"title": "conductivity σ (S/cm)", "type": "log", "tickformat": ".0e"}


@dataclass(frozen=True)
class ResultColumn:
    name: str  # the column's name in the API tables and in `?sort=`
    heading: str  # the web list's heading, with the unit
    result: str  # Result.kind
    key: str | None  # key in Result.values; None: the measurement's temperature
    fmt: str = ""

    def value(self, result: Result) -> Any:
        if self.key is None:
            return result.measurement.temperature_c if result.measurement else None
        value = (result.values or {}).get(self.key)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    def annotation(self):
        """The value for each row of an item list, as one correlated subquery."""
        ranked = _ranked(Result.objects.filter(item=OuterRef("pk"), kind=self.result))
        expression = F("measurement__temperature_c") if self.key is None else _number(self.key)
        return Subquery(ranked.values_list(expression)[:1], output_field=FloatField())

    def list_column(self) -> Column:
        return Column(
            heading=self.heading, key=self.name, annotation=self.annotation(), fmt=self.fmt
        )


SIGMA = ResultColumn(
    "conductivity_s_cm", "σ nearest 25 °C (S/cm)", "conductivity", "conductivity_s_cm", "sci"
)
SIGMA_T = ResultColumn("conductivity_temperature_c", "σ measured at (°C)", "conductivity", None)
EA = ResultColumn("arrhenius_ea_eV", "Ea, Arrhenius (eV)", "arrhenius", "activation_energy_eV")
VFT_EA = ResultColumn(
    "vft_pseudo_ea_eV", "pseudo-Ea, VFT (eV)", "vft", "pseudo_activation_energy_eV"
)
FIRST_DISCHARGE = ResultColumn(
    "first_discharge_mAh_g",
    "first discharge (mAh/g)",
    "cycling_summary",
    "first_discharge_mAh_g",
)
RETENTION = ResultColumn("retention_pct", "retention (%)", "cycling_summary", "retention_pct")
MEAN_CE = ResultColumn("mean_ce_pct", "mean CE (%)", "cycling_summary", "mean_ce_pct")
SHORT = ResultColumn(
    "short_circuit_time_h", "short circuit at (h)", "stripping", "short_circuit_time_h"
)

# The API lineage tables' columns (names kept: scripts read them), in order.
CELL_COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn(
        "first_charge_mAh_g", "first charge (mAh/g)", "cycling_summary", "first_charge_mAh_g"
    ),
    FIRST_DISCHARGE,
    ResultColumn("first_ce_pct", "first-cycle CE (%)", "cycling_summary", "first_ce_pct"),
    RETENTION,
    ResultColumn("retention_last_cycle", "retention at cycle", "cycling_summary", "last_cycle"),
    MEAN_CE,
    ResultColumn(
        "cycle_below_80pct", "below 80 % at cycle", "cycling_summary", "cycle_below_threshold"
    ),
    ResultColumn(
        "overpotential_initial_V",
        "initial overpotential (V)",
        "stripping",
        "initial_overpotential_V",
    ),
    ResultColumn("failure_time_h", "failure at (h)", "stripping", "failure_time_h"),
    SHORT,
)
SAMPLE_COLUMNS: tuple[ResultColumn, ...] = (SIGMA, SIGMA_T, EA, VFT_EA)
TABLE_COLUMNS = {
    "cell": CELL_COLUMNS,
    "pellet": SAMPLE_COLUMNS,
    "spe_membrane": SAMPLE_COLUMNS,
    "membrane_piece": SAMPLE_COLUMNS,
}
# What each kind's web list adds (the numbers people compare items by).
LIST_COLUMNS = {
    "pellet": (SIGMA, SIGMA_T, EA),
    "spe_membrane": (SIGMA, SIGMA_T, VFT_EA),
    "cell": (FIRST_DISCHARGE, RETENTION, MEAN_CE, SHORT),
}


def _number(key: str):
    """`Result.values[key]` as a float in SQL, NULL when missing or JSON null (SQLite would
    cast the text "null" to 0.0, and an empty short-circuit time would sort first)."""
    path = f"values__{key}"
    present = Q(**{f"{path}__isnull": False}) & ~Q(**{path: None})
    return Case(
        When(present, then=Cast(KT(path), FloatField())),
        default=Value(None),
        output_field=FloatField(),
    )


def _ranked(results: QuerySet) -> QuerySet:
    """Results in the order an item's row prefers them: a conductivity with a value first,
    then the one measured nearest 25 °C; the newest otherwise."""
    sigma = ResultKind.CONDUCTIVITY
    return (
        results.annotate(_sigma=_number("conductivity_s_cm"))
        .annotate(
            _no_value=Case(
                When(Q(kind=sigma, _sigma__isnull=True), then=Value(1)), default=Value(0)
            ),
            _distance=Case(
                When(
                    kind=sigma,
                    then=Abs(F("measurement__temperature_c") - Value(ROOM_TEMPERATURE_C)),
                ),
                default=Value(0.0),
                output_field=FloatField(),
            ),
            _temperature=Case(
                When(kind=sigma, then=F("measurement__temperature_c")),
                default=Value(0.0),
                output_field=FloatField(),
            ),
        )
        # Two temperatures as near (20 and 30 °C): the lower, so a page never flips between them.
        .order_by(
            "_no_value",
            F("_distance").asc(nulls_last=True),
            F("_temperature").asc(nulls_last=True),
            "-computed_at",
            "-pk",
        )
    )


def preferred_results(item_ids: Iterable[int], kinds: Iterable[str]) -> dict[int, dict]:
    """{item id: {result kind: the result its row shows}} in one query."""
    results = _ranked(
        Result.objects.filter(item_id__in=list(item_ids), kind__in=list(kinds))
    ).select_related("measurement")
    chosen: dict[int, dict[str, Result]] = {}
    for result in results:
        chosen.setdefault(result.item_id, {}).setdefault(result.kind, result)
    return chosen


def warning_texts(results: Iterable[Result]) -> list[str]:
    return [
        f"{r.get_kind_display()}: {w.get('message') or w.get('code')}"
        for r in results
        for w in r.warnings or []
    ]


# --- the item page's headline --------------------------------------------------------------


def _num(value, uncertainty=None) -> str:
    if value is None:
        return "—"
    return display.with_uncertainty(value, uncertainty) if uncertainty else display.number(value)


def _sci(value, uncertainty=None) -> str:
    if value is None:
        return "—"
    text = f"{value:.3g}" if 1e-2 <= abs(value) < 1e3 else f"{value:.2e}"
    return f"{text} ± {uncertainty:.1e}" if uncertainty else text


def _sigma_fact(result: Result | None) -> headlines.Fact | None:
    if result is None:
        return None
    values = result.values or {}
    temperature = result.measurement.temperature_c if result.measurement else None
    at_room = temperature is not None and abs(temperature - ROOM_TEMPERATURE_C) < 0.5
    label = (
        "σ at 25 °C (S/cm)" if at_room or temperature is None else f"σ at {temperature:g} °C (S/cm)"
    )
    note = ""
    if temperature is not None and not at_room:
        note = "no measurement at 25 °C; this is the nearest temperature measured"
    value = values.get("conductivity_s_cm")
    text = (
        _sci(value, values.get("conductivity_stderr_s_cm"))
        if value is not None
        else "— needs " + " and ".join(values.get("missing") or ["the sample's geometry"])
    )
    url = result.measurement.get_absolute_url() if result.measurement else ""
    return headlines.Fact(label, text, note, key="sigma", url=url)


def conductivity_points(results: QuerySet) -> dict[str, list[tuple[float, float]]]:
    """{item code: [(temperature °C, σ S/cm), ...] by temperature} of the conductivity results
    among `results` that have both (for Arrhenius-type plots: log σ needs σ > 0)."""
    rows = (
        results.filter(kind=ResultKind.CONDUCTIVITY)
        .exclude(measurement__temperature_c__isnull=True)
        .values_list("item__code", "measurement__temperature_c", "values")
    )
    points: dict[str, list[tuple[float, float]]] = {}
    for code, temperature, values in rows:
        sigma = (values or {}).get("conductivity_s_cm")
        if isinstance(sigma, int | float) and sigma > 0:
            points.setdefault(code, []).append((temperature, sigma))
    return {code: sorted(p) for code, p in points.items()}


def _arrhenius_plot(item: Item, arrhenius: Result | None, vft: Result | None) -> dict | None:
    """log σ against 1000/T: the measured points and the fits through them."""
    points = conductivity_points(Result.objects.filter(item=item)).get(item.code)
    if not points:
        return None
    t_k = [t + 273.15 for t, _ in points]
    x = [1000 / t for t in t_k]
    traces: list[dict] = [
        {
            "x": x,
            "y": [s for _, s in points],
            "text": [f"{t:g} °C" for t, _ in points],
            "mode": "markers",
            "name": "measured",
        }
    ]
    grid = [min(t_k) + (max(t_k) - min(t_k)) * i / 40 for i in range(41)] if len(t_k) > 1 else []
    if arrhenius is not None and grid:
        a, ea = arrhenius.values.get("prefactor"), arrhenius.values.get("activation_energy_eV")
        if a and ea is not None:
            traces.append(
                {
                    "x": [1000 / t for t in grid],
                    "y": [a * math.exp(-ea / (BOLTZMANN_EV_K * t)) for t in grid],
                    "mode": "lines",
                    "name": f"Arrhenius, Ea {display.number(ea)} eV",
                }
            )
    if vft is not None and grid:
        a, b, t0 = (vft.values.get(k) for k in ("prefactor_s_k05_cm", "b_k", "t0_k"))
        if a and b and t0 is not None and min(grid) > t0:
            traces.append(
                {
                    "x": [1000 / t for t in grid],
                    "y": [a / math.sqrt(t) * math.exp(-b / (t - t0)) for t in grid],
                    "mode": "lines",
                    "name": f"VFT, T0 {display.number(t0)} K",
                }
            )
    return {
        "traces": traces,
        "layout": {
            "xaxis": {"title": "1000/T (1/K)"},
            "yaxis": LOG_SIGMA_AXIS,
        },
    }


def sample_headlines(item: Item) -> headlines.Headlines | None:
    """A pellet's or a membrane's conductivity nearest 25 °C and activation energies."""
    kinds = [ResultKind.CONDUCTIVITY, ResultKind.ARRHENIUS, ResultKind.VFT]
    chosen = preferred_results([item.pk], kinds).get(item.pk, {})
    if not chosen:
        return None
    facts = [f for f in [_sigma_fact(chosen.get(ResultKind.CONDUCTIVITY))] if f]
    arrhenius, vft = chosen.get(ResultKind.ARRHENIUS), chosen.get(ResultKind.VFT)
    if arrhenius is not None:
        v = arrhenius.values
        facts.append(
            headlines.Fact(
                "Ea, Arrhenius (eV)",
                _num(v.get("activation_energy_eV"), v.get("activation_energy_stderr_eV")),
                f"σ = A exp(−Ea/kT) over {v.get('n_points')} temperatures, "
                f"R² {display.number(v.get('r_squared'))}",
                key="ea",
            )
        )
    if vft is not None:
        v = vft.values
        facts += [
            headlines.Fact(
                "pseudo-Ea, VFT (eV)",
                _num(
                    v.get("pseudo_activation_energy_eV"),
                    v.get("pseudo_activation_energy_stderr_eV"),
                ),
                f"σ = A T^−½ exp(−B/(T − T0)) over {v.get('n_points')} temperatures",
                key="vft_ea",
            ),
            headlines.Fact("VFT B (K)", _num(v.get("b_k"), v.get("b_stderr_k")), key="vft_b"),
            headlines.Fact("VFT T0 (K)", _num(v.get("t0_k"), v.get("t0_stderr_k")), key="vft_t0"),
            headlines.Fact(
                "VFT A (S K½/cm)",
                _num(v.get("prefactor_s_k05_cm"), v.get("prefactor_stderr_s_k05_cm")),
                key="vft_a",
            ),
        ]
    return headlines.Headlines(
        facts=facts,
        warnings=warning_texts(chosen.values()),
        plot=_arrhenius_plot(item, arrhenius, vft),
    )


def _cycling_plot(item: Item) -> dict | None:
    """Discharge capacity and CE against cycle, one trace per cycling measurement."""
    rows = (
        CycleRow.objects.filter(measurement__item=item)
        .order_by("measurement_id", "cycle")
        .values_list("measurement__code", "cycle", "discharge_mAh_g", "coulombic_efficiency")
    )
    series: dict[str, list[tuple]] = {}
    for code, cycle, discharge, ce in rows:
        series.setdefault(code, []).append((cycle, discharge, ce))
    if not series:
        return None
    traces = []
    for code, points in series.items():
        traces.append(
            {
                "x": [p[0] for p in points],
                "y": [p[1] for p in points],
                "mode": "markers",
                "name": f"{code} discharge",
            }
        )
        traces.append(
            {
                "x": [p[0] for p in points],
                "y": [None if p[2] is None else 100 * p[2] for p in points],
                "mode": "lines",
                "name": f"{code} CE",
                "yaxis": "y2",
            }
        )
    return {
        "traces": traces,
        "layout": {
            "xaxis": {"title": "cycle"},
            "yaxis": {"title": "discharge capacity (mAh/g)", "rangemode": "tozero"},
            "yaxis2": {"title": "coulombic efficiency (%)", "overlaying": "y", "side": "right"},
        },
    }


def _stripping_plot(item: Item) -> dict | None:
    measurement = (
        Measurement.objects.filter(
            item=item, technique=Technique.STRIPPING, status__in=("done", "done_with_warnings")
        )
        .order_by("-id")
        .first()
    )
    data = selectors.plot_data(measurement) if measurement else None
    if not data:
        return None
    return {
        "traces": [
            {
                "x": data["trace"]["t_h"],
                "y": data["trace"]["v"],
                "mode": "lines",
                "name": measurement.code,
            }
        ],
        "layout": {"xaxis": {"title": "time (h)"}, "yaxis": {"title": "cell voltage (V)"}},
    }


def cell_headlines(item: Item) -> headlines.Headlines | None:
    """A cell's first discharge, retention, mean CE; a symmetric cell's failure or short."""
    kinds = [ResultKind.CYCLING_SUMMARY, ResultKind.STRIPPING]
    chosen = preferred_results([item.pk], kinds).get(item.pk, {})
    if not chosen:
        return None
    facts = []
    summary = chosen.get(ResultKind.CYCLING_SUMMARY)
    if summary is not None:
        v = summary.values
        url = summary.measurement.get_absolute_url() if summary.measurement else ""
        below = v.get("cycle_below_threshold")
        threshold = 100 * (v.get("retention_threshold") or 0.8)
        facts += [
            headlines.Fact(
                "first discharge (mAh/g)",
                _num(v.get("first_discharge_mAh_g")),
                f"charge {_num(v.get('first_charge_mAh_g'))} mAh/g, "
                f"first-cycle CE {_num(v.get('first_ce_pct'))} %",
                key="first_discharge",
                url=url,
            ),
            headlines.Fact(
                "capacity retention (%)",
                _num(v.get("retention_pct")),
                f"cycle {v.get('last_cycle')} against cycle {v.get('reference_cycle')}"
                + (
                    f"; below {threshold:g} % from cycle {below}"
                    if below
                    else f"; never below {threshold:g} %"
                ),
                key="retention",
                url=url,
            ),
            headlines.Fact(
                "mean coulombic efficiency (%)",
                _num(v.get("mean_ce_pct")),
                f"over {v.get('n_cycles')} cycles",
                key="mean_ce",
                url=url,
            ),
        ]
    stripping = chosen.get(ResultKind.STRIPPING)
    if stripping is not None:
        v = stripping.values
        url = stripping.measurement.get_absolute_url() if stripping.measurement else ""
        if v.get("short_circuit_time_h") is not None:
            facts.append(
                headlines.Fact(
                    "short circuit at (h)", _num(v["short_circuit_time_h"]), key="short", url=url
                )
            )
        elif v.get("failure_time_h") is not None:
            facts.append(
                headlines.Fact(
                    "failure at (h)",
                    _num(v["failure_time_h"]),
                    "overpotential beyond the limit",
                    key="failure",
                    url=url,
                )
            )
        else:
            facts.append(
                headlines.Fact(
                    "stripping/plating",
                    f"no failure in {_num(v.get('duration_h'))} h",
                    key="no_failure",
                    url=url,
                )
            )
        facts.append(
            headlines.Fact(
                "initial overpotential (V)",
                _num(v.get("initial_overpotential_V")),
                key="overpotential",
                url=url,
            )
        )
    plot = _cycling_plot(item) if summary is not None else None
    if plot is None and stripping is not None:
        plot = _stripping_plot(item)
    return headlines.Headlines(facts=facts, warnings=warning_texts(chosen.values()), plot=plot)


def lineage_table_fetch(columns: Sequence[ResultColumn], warnings_column: str):
    """The API lineage tables' fetch for these columns: one query per page of roots."""
    kinds = list(dict.fromkeys(c.result for c in columns))

    def fetch(roots) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for item_id, chosen in preferred_results([r.pk for r in roots], kinds).items():
            row = {c.name: c.value(chosen[c.result]) for c in columns if c.result in chosen}
            row[warnings_column] = "; ".join(
                f"{r.kind}: {w['code']}"
                for kind in kinds
                if (r := chosen.get(kind))
                for w in r.warnings or []
            )
            out[item_id] = row
        return out

    return fetch


def register() -> None:
    """Fill the core's registries (called from MeasurementsConfig.ready)."""
    for kind in ("pellet", "spe_membrane", "membrane_piece"):
        headlines.register(kind, sample_headlines, position=10)
    headlines.register("cell", cell_headlines, position=10)
    for kind, cols in LIST_COLUMNS.items():
        headlines.register_columns(kind, [c.list_column() for c in cols])
