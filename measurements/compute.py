"""From parsed data and the sample's geometry to results: pure functions, no database.

Each technique turns a list of parsed frames (one per uploaded file, in upload order) and the
inputs it needs into `Computed` results. The caller stores them with the inputs and algorithm
versions, so a result always says what it was computed from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from .analysis import AnalysisError, cycling, eis, quality, stripping, tga
from .analysis._util import jsonable, require_frame
from .canonical import CYCLE, TIME_S


@dataclass
class Computed:
    kind: str
    values: dict[str, Any]
    algorithm_version: str
    inputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict] = field(default_factory=list)


@dataclass
class Outcome:
    results: list[Computed]
    per_cycle: pl.DataFrame | None = None
    # Inputs the headline number needs and did not have (keys of `inputs`, e.g.
    # "thickness_um"): the results that could be computed are kept, the measurement waits.
    missing: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[dict]:
        return [w for r in self.results for w in r.warnings]


def _expect_kind(frames: list[tuple[str, pl.DataFrame]], kinds: list[str], wanted: str) -> None:
    for (name, _), kind in zip(frames, kinds, strict=True):
        if kind != wanted:
            raise AnalysisError(f"{name}: holds {kind} data, but this is a {wanted} measurement")


def join_continuations(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Several files of one test (a test restarted after a pause) as one time series: each
    file's time and cycle counters continue from where the previous file ended."""
    if len(frames) == 1:
        return frames[0]
    parts, t_offset, c_offset = [], 0.0, 0
    for frame in frames:
        shifted = frame.with_columns(pl.col(TIME_S) + t_offset)
        if CYCLE in frame.columns and frame[CYCLE].null_count() < frame.height:
            shifted = shifted.with_columns(pl.col(CYCLE) + c_offset)
            c_offset = int(shifted[CYCLE].max()) + 1
        t_offset = float(shifted[TIME_S].max() or t_offset)
        parts.append(shifted)
    return pl.concat(parts, how="diagonal_relaxed")


def compute_eis(frame: pl.DataFrame, inputs: Mapping[str, Any]) -> list[Computed]:
    """The circuit fit (with its Lin-KK check and warnings) and a conductivity for each
    labelled resistance of the circuit (bulk, grain boundary, total); "total" (or the only
    one) is the headline conductivity."""
    circuit = inputs.get("eis_model") or eis.AUTO
    definition = inputs.get("conductivity_resistances") or None
    fit = eis.fit_impedance_frame(frame, model=circuit, conductivity=definition)
    fit_inputs = {"eis_model": circuit, "conductivity_resistances": definition or ""}
    results = [Computed("eis_fit", fit.to_dict(), eis.ALGORITHM_VERSION, fit_inputs, fit.warnings)]
    thickness_um, area_cm2 = inputs.get("thickness_um"), inputs.get("area_cm2")
    conductivities = {}
    for label, r in fit.resistances.items():
        entry = {
            "definition": r["definition"],
            "resistance_ohm": r["value"],
            "resistance_stderr_ohm": r["stderr"],
            "conductivity_s_cm": None,
            "conductivity_stderr_s_cm": None,
        }
        if thickness_um and area_cm2:
            sigma = eis.conductivity_s_cm(r["value"], thickness_um / 1e4, area_cm2)
            entry["conductivity_s_cm"] = sigma
            if r["stderr"] is not None:
                # sigma = L / (R A): the relative error of R carries over.
                entry["conductivity_stderr_s_cm"] = sigma * r["stderr"] / r["value"]
        conductivities[label] = entry
    headline_label = eis.HEADLINE if eis.HEADLINE in conductivities else next(iter(conductivities))
    headline = conductivities[headline_label]
    values: dict[str, Any] = {
        "model": fit.model,
        "headline": headline_label,
        "resistance_ohm": headline["resistance_ohm"],
        "resistance_stderr_ohm": headline["resistance_stderr_ohm"],
        "conductivity_s_cm": headline["conductivity_s_cm"],
        "conductivity_stderr_s_cm": headline["conductivity_stderr_s_cm"],
        "conductivities": conductivities,
    }
    if not (thickness_um and area_cm2):
        values["missing"] = [
            n for n, v in (("thickness", thickness_um), ("electrode area", area_cm2)) if not v
        ]
    warnings = quality.conductivity_warnings(headline["conductivity_s_cm"])
    used = {
        "thickness_um": thickness_um,
        "area_cm2": area_cm2,
        "temperature_c": inputs.get("temperature_c"),
    }
    results.append(
        Computed("conductivity", jsonable(values), eis.ALGORITHM_VERSION, used, warnings)
    )
    return results


EIS_NEEDS = ("thickness_um", "area_cm2")


def compute_cycling(frame: pl.DataFrame, inputs: Mapping[str, Any]) -> Outcome:
    mass_mg = inputs.get("active_mass_mg")
    if not mass_mg:
        return _cycling_without_mass(frame)
    table, cycle_rule = cycling.per_cycle_with_rule(frame, mass_mg / 1000)
    if table.height == 0:
        raise AnalysisError("no complete charge/discharge cycle found in the data")
    # Cycles are numbered from 1 in the LIMS; Maccor counts from 0.
    offset = cycling.first_cycle_offset(table["cycle"])
    table = table.with_columns(pl.col("cycle") + offset)
    reference = min(max(int(inputs.get("reference_cycle") or 1), 1), int(table["cycle"].max()))
    summary = cycling.summarise(table, reference_cycle=reference)
    rates = cycling.rate_table(table)
    material = inputs.get("active_material")
    limit, _ = quality.capacity_limit(material)
    used = {
        "active_mass_mg": mass_mg,
        "reference_cycle": reference,
        "instrument_cycle_offset": offset,
        "specific_current_mA_g_at_1C": 200.0,
        "cycle_rule": cycle_rule,
        "active_material": material,
        "capacity_limit_mAh_g": limit,
    }
    rows = table.fill_nan(None).to_dicts()
    return Outcome(
        results=[
            Computed(
                "cycling_summary",
                {**summary.to_dict(), "cycle_rule": cycle_rule},
                cycling.ALGORITHM_VERSION,
                used,
                quality.first_cycle_warnings(rows, material)
                + quality.last_cycle_warnings(rows)
                + quality.capacity_warnings(rows, material)
                + quality.coulombic_efficiency_warnings(rows),
            ),
            Computed(
                "rate_table",
                {"rows": jsonable(rates.to_dicts())},
                cycling.ALGORITHM_VERSION,
                used,
                quality.c_rate_warnings(rows),
            ),
        ],
        per_cycle=table,
    )


def _cycling_without_mass(frame: pl.DataFrame) -> Outcome:
    """Without the active mass only the per-cycle table in mAh (and CE) can be computed; the
    specific capacities, C-rates and summaries wait for the mass."""
    table, _ = cycling.per_cycle_with_rule(frame, 1.0)
    if table.height == 0:
        raise AnalysisError("no complete charge/discharge cycle found in the data")
    offset = cycling.first_cycle_offset(table["cycle"])
    table = table.with_columns(
        pl.col("cycle") + offset,
        *(pl.lit(None, pl.Float64).alias(n) for n in ("charge_mAh_g", "discharge_mAh_g", "c_rate")),
    )
    return Outcome(results=[], per_cycle=table, missing=["active_mass_mg"])


def compute_stripping(frame: pl.DataFrame, inputs: Mapping[str, Any]) -> list[Computed]:
    result = stripping.analyse(frame)
    values = result.to_dict()
    warnings = quality.overpotential_warnings(
        result.half_cycles["overpotential_V"].to_list(), inputs.get("instrument")
    )
    area = inputs.get("area_cm2")
    if area:
        current = frame["current_mA"].abs().median()
        values["current_density_mA_cm2"] = float(current) / area if current else None
    used = {"area_cm2": area, "instrument": inputs.get("instrument") or ""}
    return [Computed("stripping", values, stripping.ALGORITHM_VERSION, used, warnings)]


def compute_tga(frame: pl.DataFrame, inputs: Mapping[str, Any]) -> list[Computed]:
    result = tga.analyse(frame)
    return [Computed("tga", result.to_dict(), tga.ALGORITHM_VERSION, {})]


def compute_xrd(frame: pl.DataFrame, inputs: Mapping[str, Any]) -> list[Computed]:
    require_frame(frame, ("two_theta_deg", "intensity"), what="XRD", min_rows=1)
    # NaN sorts above every number in polars: the range and the strongest peak are real rows.
    finite = frame.filter(pl.col("intensity").is_finite() & pl.col("two_theta_deg").is_finite())
    if finite.height == 0:
        raise AnalysisError("XRD pattern has no row with a finite 2-theta and intensity")
    peak = finite.sort("intensity", descending=True).row(0, named=True)
    values = {
        "n_points": frame.height,
        "two_theta_min_deg": finite["two_theta_deg"].min(),
        "two_theta_max_deg": finite["two_theta_deg"].max(),
        "strongest_peak_two_theta_deg": peak["two_theta_deg"],
    }
    return [Computed("xrd", jsonable(values), "xrd-summary/1", {})]


# The measurement settings each technique's computation reads (technique, instrument,
# temperature, file format and notes belong to every measurement). The settings forms show
# only these; keep them in step with the compute_* functions above.
TECHNIQUE_INPUTS = {
    "eis": ("thickness_um", "area_cm2", "eis_model", "conductivity_resistances"),
    "cycling": ("active_mass_mg", "reference_cycle"),
    "stripping": ("area_cm2",),  # the current density; the instrument bounds the overpotential
    "tga": (),
    "xrd": (),
}

TECHNIQUE_DATA_KIND = {
    "eis": "eis",
    "cycling": "cycling",
    "stripping": "cycling",
    "tga": "tga",
    "xrd": "xrd",
}


def compute(
    technique: str,
    frames: list[tuple[str, pl.DataFrame]],
    kinds: list[str],
    inputs: Mapping[str, Any],
) -> Outcome:
    """All results of one measurement. Raises AnalysisError with a reason a user can act on."""
    if not frames:
        raise AnalysisError("no raw file attached")
    _expect_kind(frames, kinds, TECHNIQUE_DATA_KIND[technique])
    data = [frame for _, frame in frames]
    if technique == "eis":
        if len(data) > 1:
            raise AnalysisError(
                "an EIS measurement takes one spectrum; attach one file "
                "(record each temperature as its own measurement)"
            )
        missing = [name for name in EIS_NEEDS if not inputs.get(name)]
        return Outcome(compute_eis(data[0], inputs), missing=missing)
    if technique == "cycling":
        return compute_cycling(join_continuations(data), inputs)
    if technique == "stripping":
        return Outcome(compute_stripping(join_continuations(data), inputs))
    if technique == "tga":
        return Outcome(compute_tga(data[0], inputs))
    return Outcome(compute_xrd(data[0], inputs))
