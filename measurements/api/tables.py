"""Result columns for lineage tables: a cell row carries its cycling and stripping results, a
pellet or membrane row its conductivity and activation energies (one query per page each).

The columns, their headings and the rule for which result a row shows are
`measurements.headlines`', the same the item pages and the web lists use.

Two columns take a value from the query: `retention_at_cycle=N` (a cell's retention at cycle N
from its per-cycle table) and `conductivity_at_c=T` (a sample's conductivity at T °C, measured
there or read off its temperature-series fit)."""

from __future__ import annotations

import math
from typing import Any

from django.db.models import Q

from core.api.lineage_table import TableParameter, register_extra_columns, register_table_parameter
from measurements.analysis import temperature
from measurements.headlines import TABLE_COLUMNS, lineage_table_fetch
from measurements.models import FINISHED_OK, CycleRow, Result

# A conductivity measured this close to the temperature asked for is taken as measured there.
SAME_TEMPERATURE_C = 2.0
# Which of the row's results have warnings, e.g. "cycling_summary: capacity_above_theoretical".
WARNINGS_COLUMN = "result_warnings"


# --- columns that take a value from the query ---------------------------------------------------


def _number(text: str, *, low: float, high: float, whole: bool, unit: str) -> float | int:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"'{text}' is not {kind}.") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"'{text}': must be from {low:.10g} to {high:.10g}{unit}.")
    return value


def _retention_columns(cycle: int) -> dict[str, str]:
    return {
        f"discharge_at_cycle_{cycle}_mAh_g": f"discharge capacity at cycle {cycle} (mAh/g)",
        f"retention_at_cycle_{cycle}_pct": f"retention at cycle {cycle} (%)",
    }


def retention_at_cycle(roots, cycle: int) -> dict[int, dict[str, Any]]:
    """Each cell's discharge capacity at `cycle` and its retention against the reference cycle
    its cycling summary used (as the summary's own retention), from the per-cycle table of the
    measurement behind the cell's newest cycling summary. Two queries."""
    discharge_col, retention_col = _retention_columns(cycle)
    summaries: dict[int, tuple[int, int]] = {}  # item -> (measurement, reference cycle)
    for item_id, measurement_id, inputs in (
        Result.objects.filter(item_id__in=[r.pk for r in roots], kind="cycling_summary")
        .order_by("computed_at", "id")
        .values_list("item_id", "measurement_id", "inputs")
    ):
        summaries[item_id] = (measurement_id, int((inputs or {}).get("reference_cycle") or 1))
    wanted = {cycle} | {ref for _, ref in summaries.values()}
    discharge = {
        (m, c): q
        for m, c, q in CycleRow.objects.filter(
            measurement_id__in=[m for m, _ in summaries.values()], cycle__in=wanted
        ).values_list("measurement_id", "cycle", "discharge_mAh_g")
    }
    out = {}
    for item_id, (measurement_id, ref) in summaries.items():
        q, q_ref = discharge.get((measurement_id, cycle)), discharge.get((measurement_id, ref))
        out[item_id] = {
            discharge_col: q,
            retention_col: 100.0 * q / q_ref if q is not None and q_ref else None,
        }
    return out


def _conductivity_columns(temperature_c: float) -> dict[str, str]:
    t = f"{temperature_c:g}"
    return {
        f"conductivity_at_{t}c_s_cm": f"conductivity at {t} °C (S/cm)",
        f"conductivity_at_{t}c_source": f"where the conductivity at {t} °C comes from",
    }


def _from_fit(results: dict[str, Result], t: float) -> tuple[float | None, str]:
    """σ at t from the sample's VFT fit (polymers; it exists only where the data curve) or
    else its Arrhenius fit, inside the temperatures the fit used; never extrapolated."""
    for kind, name, evaluate in (
        ("vft", "VFT fit", temperature.vft_sigma),
        ("arrhenius", "Arrhenius fit", temperature.arrhenius_sigma),
    ):
        fit = results.get(kind)
        if fit is None:
            continue
        used = (fit.inputs or {}).get("temperatures_c") or []
        low, high = (min(used), max(used)) if used else (None, None)
        span = f"{low:g}–{high:g} °C" if used else "no temperatures"
        if used and low <= t <= high:
            return float(evaluate(fit.values, t)), f"{name} over {span}"
        return None, f"outside the {name}'s {span}; not extrapolated"
    return None, ""


def conductivity_at(roots, temperature_c: float) -> dict[int, dict[str, Any]]:
    """Each sample's conductivity at `temperature_c`: the one measured within
    `SAME_TEMPERATURE_C` (nearest, then newest), else read off its temperature-series fit
    inside the fitted range; the source column says which. One query."""
    value_col, source_col = _conductivity_columns(temperature_c)
    measured: dict[int, tuple] = {}
    fits: dict[int, dict[str, Result]] = {}
    results = (
        Result.objects.filter(
            item_id__in=[r.pk for r in roots], kind__in=("conductivity", "arrhenius", "vft")
        )
        .filter(Q(measurement__isnull=True) | Q(measurement__status__in=FINISHED_OK))
        .select_related("measurement")
        .order_by("computed_at", "id")
    )
    for result in results:
        if result.measurement is None:
            fits.setdefault(result.item_id, {})[result.kind] = result
            continue
        t, sigma = result.measurement.temperature_c, result.values.get("conductivity_s_cm")
        if t is None or sigma is None or abs(t - temperature_c) > SAME_TEMPERATURE_C:
            continue
        best = measured.get(result.item_id)
        if best is None or abs(t - temperature_c) <= best[0]:
            measured[result.item_id] = (abs(t - temperature_c), sigma, result.measurement)
    out = {}
    for item_id in {*measured, *fits}:
        if item_id in measured:
            _, sigma, m = measured[item_id]
            source = f"measured ({m.code} at {m.temperature_c:g} °C)"
        else:
            sigma, source = _from_fit(fits[item_id], temperature_c)
        out[item_id] = {value_col: sigma, source_col: source or None}
    return out


for _kind, _columns in TABLE_COLUMNS.items():
    register_extra_columns(
        _kind,
        [*(c.name for c in _columns), WARNINGS_COLUMN],
        lineage_table_fetch(_columns, WARNINGS_COLUMN),
        {**{c.name: c.heading for c in _columns}, WARNINGS_COLUMN: "result warnings"},
    )
register_table_parameter(
    "cell",
    TableParameter(
        name="retention_at_cycle",
        label="retention at cycle (cycle number)",
        description="adds each cell's discharge capacity (mAh/g) at cycle N and its retention "
        "(%) against the summary's reference cycle: `discharge_at_cycle_N_mAh_g`, "
        "`retention_at_cycle_N_pct`",
        parse=lambda text: _number(text, low=1, high=1_000_000, whole=True, unit=""),
        columns=_retention_columns,
        fetch=retention_at_cycle,
    ),
)
for kind in ("pellet", "spe_membrane", "membrane_piece"):
    register_table_parameter(
        kind,
        TableParameter(
            name="conductivity_at_c",
            label="conductivity at (°C)",
            description="adds each sample's conductivity (S/cm) at T °C, measured within "
            f"{SAME_TEMPERATURE_C:g} °C or read off its VFT/Arrhenius fit inside the fitted "
            "range, and where it comes from: `conductivity_at_Tc_s_cm`, "
            "`conductivity_at_Tc_source`",
            parse=lambda text: _number(text, low=-100, high=1200, whole=False, unit=" °C"),
            columns=_conductivity_columns,
            fetch=conductivity_at,
        ),
    )
