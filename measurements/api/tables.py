"""Result columns for lineage tables: a cell row carries its cycling and stripping results, a
pellet or membrane row its conductivity and activation energies (one query per page each).

Two columns take a value from the query: `retention_at_cycle=N` (a cell's retention at cycle N
from its per-cycle table) and `conductivity_at_c=T` (a sample's conductivity at T °C, measured
there or read off its temperature-series fit)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from core.api.lineage_table import TableParameter, register_extra_columns, register_table_parameter
from measurements.analysis import temperature
from measurements.models import FINISHED_OK, CycleRow, Result

ROOM_TEMPERATURE_C = 25.0
# A conductivity measured this close to the temperature asked for is taken as measured there.
SAME_TEMPERATURE_C = 2.0
# Which of the row's results have warnings, e.g. "cycling_summary: capacity_above_theoretical".
WARNINGS_COLUMN = "result_warnings"
# result kind -> (column in the table, key in Result.values)
CELL_COLUMNS = {
    "cycling_summary": [
        ("first_charge_mAh_g", "first_charge_mAh_g"),
        ("first_discharge_mAh_g", "first_discharge_mAh_g"),
        ("first_ce_pct", "first_ce_pct"),
        ("retention_pct", "retention_pct"),
        ("retention_last_cycle", "last_cycle"),
        ("mean_ce_pct", "mean_ce_pct"),
        ("cycle_below_80pct", "cycle_below_threshold"),
    ],
    "stripping": [
        ("overpotential_initial_V", "initial_overpotential_V"),
        ("failure_time_h", "failure_time_h"),
        ("short_circuit_time_h", "short_circuit_time_h"),
    ],
}
SAMPLE_COLUMNS = {
    "conductivity": [
        ("conductivity_s_cm", "conductivity_s_cm"),
        ("conductivity_temperature_c", None),
    ],
    "arrhenius": [("arrhenius_ea_eV", "activation_energy_eV")],
    "vft": [("vft_pseudo_ea_eV", "pseudo_activation_energy_eV")],
}


def _fetcher(spec: Mapping[str, list[tuple[str, str | None]]]):
    def fetch(roots) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        results = (
            Result.objects.filter(item_id__in=[r.pk for r in roots], kind__in=spec)
            .select_related("measurement")
            .order_by("item_id", "computed_at", "id")
        )
        # Later wins: the newest result, except that of several conductivities (a temperature
        # series) the one measured nearest room temperature is the row's conductivity.
        results = sorted(results, key=_preference)
        shown: dict[int, dict[str, list[str]]] = {}
        for result in results:
            row = out.setdefault(result.item_id, {})
            # The warnings of the result whose numbers the row shows (a later one replaces).
            shown.setdefault(result.item_id, {})[result.kind] = [
                f"{result.kind}: {w['code']}" for w in result.warnings or []
            ]
            row[WARNINGS_COLUMN] = "; ".join(
                code for codes in shown[result.item_id].values() for code in codes
            )
            for column, key in spec[result.kind]:
                if key is None:  # the temperature the conductivity was measured at
                    value = result.measurement.temperature_c if result.measurement else None
                else:
                    value = result.values.get(key)
                row[column] = value
        return out

    return fetch


def _preference(result: Result) -> tuple:
    """Sort key, later wins: the newest result, and for conductivity the one nearest room
    temperature (then the newest)."""
    distance = 0.0
    if result.kind == "conductivity":
        temperature = result.measurement.temperature_c if result.measurement else None
        distance = abs(temperature - ROOM_TEMPERATURE_C) if temperature is not None else 1e9
    return (result.item_id, result.kind, -distance, result.computed_at, result.pk)


def _columns(spec) -> list[str]:
    return [column for pairs in spec.values() for column, _ in pairs] + [WARNINGS_COLUMN]


LABELS = {
    "first_charge_mAh_g": "first charge capacity (mAh/g)",
    "first_discharge_mAh_g": "first discharge capacity (mAh/g)",
    "first_ce_pct": "first-cycle coulombic efficiency (%)",
    "retention_pct": "retention at the last cycle (%)",
    "retention_last_cycle": "last cycle (cycle number)",
    "mean_ce_pct": "mean coulombic efficiency (%)",
    "cycle_below_80pct": "first cycle below 80 % retention (cycle number)",
    "overpotential_initial_V": "initial stripping overpotential (V)",
    "failure_time_h": "failure time (h)",
    "short_circuit_time_h": "short-circuit time (h)",
    "conductivity_s_cm": "conductivity nearest 25 °C (S/cm)",
    "conductivity_temperature_c": "temperature of that conductivity (°C)",
    "arrhenius_ea_eV": "Arrhenius activation energy (eV)",
    "vft_pseudo_ea_eV": "VFT pseudo-activation energy (eV)",
    WARNINGS_COLUMN: "result warnings",
}


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


register_extra_columns("cell", _columns(CELL_COLUMNS), _fetcher(CELL_COLUMNS), LABELS)
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
    register_extra_columns(kind, _columns(SAMPLE_COLUMNS), _fetcher(SAMPLE_COLUMNS), LABELS)
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
