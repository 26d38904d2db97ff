"""Result columns for lineage tables: a cell row carries its cycling and stripping results, a
pellet or membrane row its conductivity and activation energies (one query per page each)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.api.lineage_table import register_extra_columns
from measurements.models import Result

ROOM_TEMPERATURE_C = 25.0
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
    """Later wins: the newest result, and for conductivity the one nearest room temperature."""
    temperature = result.measurement.temperature_c if result.measurement else None
    distance = abs(temperature - ROOM_TEMPERATURE_C) if temperature is not None else 1e9
    return (result.item_id, -distance, result.computed_at, result.pk)


def _columns(spec) -> list[str]:
    return [column for pairs in spec.values() for column, _ in pairs] + [WARNINGS_COLUMN]


register_extra_columns("cell", _columns(CELL_COLUMNS), _fetcher(CELL_COLUMNS))
for kind in ("pellet", "spe_membrane", "membrane_piece"):
    register_extra_columns(kind, _columns(SAMPLE_COLUMNS), _fetcher(SAMPLE_COLUMNS))
