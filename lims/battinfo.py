"""Items and measurements as BattINFO / EMMO JSON-LD (the battery domain ontology's vocabulary).

The document's `@context` is the ontology's published context
(https://w3id.org/emmo/domain/battery/context, a copy in `lims/vendor/battinfo/`), so a reader
that knows BattINFO reads our cells, electrolytes, electrodes and measurements in its own terms:

- a cell is a `BatteryCell` (and a `CoinCell`, `PouchCell` or `SwagelokCell` by its format) with
  `hasNegativeElectrode`, `hasElectrolyte` (each electrolyte layer's item) and
  `hasPositiveElectrode`; an electrode disk is a `CoatedElectrode` with `hasCoating` and
  `hasCurrentCollector`; a side made of foils (Li, Cu/Pt) is an `Electrode` node whose foils
  are its `hasActiveMaterial`, `hasCurrentCollector` or `hasConstituent`;
- LAGP batches and pellets are `SolidElectrolyte`, SPE membranes and their pieces
  `PolymerElectrolyte`, ILE batches `IonicLiquidElectrolyte` (`hasSolvent`, `hasSolute`);
- a reagent lot is an individual of its substance's class where the ontology has one
  (`Lithium`, `Copper`, `LithiumBisfluorosulfonylimide`, ...);
- every number is a quantity node: `hasProperty` -> {`@type` the quantity (`Thickness`,
  `IonicConductivity`, ...), `hasNumericalPart` {`RealData`, `hasNumberValue`},
  `hasMeasurementUnit` the unit's IRI as the context defines it};
- a measurement is its technique's class (`ElectrochemicalImpedanceSpectroscopy`,
  `GalvanostaticCycling`, `Thermogravimetry`, `XrayDiffraction`) with `hasMeasurementSample`,
  `hasMeasurementParameter` (its temperature) and `hasOutput` (its results, which are also
  the sample's `hasProperty`);
- lineage is PROV-O's `prov:wasDerivedFrom`, and names and dates are schema.org's.

Where BattINFO has no term (a sintering temperature, capacity retention, Li
stripping/plating), the term is in this LIMS's own namespace, `lims:` (`LIMS_TERMS` lists and
explains each; README "Open formats"), never a made-up name in the ontology's.

Node ids are the records' pages on this instance (`items/PEL-0001/`,
`measurements/MEAS-0001/`, relative to `@base`, the site's address).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core import permissions
from core import selectors as core_selectors
from core.models import Item, LineageEdge
from measurements.models import Measurement, Result

CONTEXT_URL = "https://w3id.org/emmo/domain/battery/context"
CONTEXT_FILE = Path(__file__).parent / "vendor" / "battinfo" / "context.json"
LIMS_NS = "urn:ssb-lims:term:"
MEDIA_TYPE = "application/ld+json"
# Where a document is read with no request to tell the site's address (inside an .eln file
# made offline): a reserved name that can never point at someone else's server.
DEFAULT_BASE = "https://lims.invalid/"

# Every term of our own namespace the export writes, and why BattINFO's does not fit.
LIMS_TERMS = {
    "lims:ReagentLot": "a bought, counted lot of a chemical (its substance class is given too "
    "where the ontology has one)",
    "lims:Chemical": "a substance the ontology has no class for (PEO, Pyr14FSI, GeO2, ...); "
    "schema:name names it",
    "lims:kind": "the LIMS's kind of record (pellet, spe_membrane, ...)",
    "lims:notation": "the cell's stack in the lab's notation, e.g. Li|ILE/LAGP/ILE|NCM811",
    "lims:lotNumber": "the supplier's lot number",
    "lims:molarRatio": "PEO:LiFSI:Pyr14FSI as mol EO units : salt : IL",
    "lims:massRatio": "active : carbon : binder, by weight",
    "lims:uvCrosslinked": "whether the membrane was UV crosslinked",
    "lims:phaseResult": "the batch's XRD phase check",
    "lims:SinteringTemperature": "the temperature a pellet set was sintered at (BattINFO has "
    "the Sintering process but no sintering-temperature quantity)",
    "lims:AluminiumSubstitution": "x in Li(1+x)Al(x)Ge(2-x)(PO4)3",
    "lims:LithiumExcess": "lithium added over the stoichiometric amount",
    "lims:CapacityRetention": "last cycle's discharge capacity over the reference cycle's "
    "(BattINFO has ChargeRetention, a different quantity)",
    "lims:LithiumStrippingPlating": "galvanostatic Li stripping/plating of a symmetric Li cell",
    "lims:MilliAmpereHourPerGram": "mAh/g, the unit of specific capacity (not in the context)",
    "lims:OnsetTemperature": "TGA's extrapolated onset of mass loss",
}

CELL_FORMATS = {"coin": "CoinCell", "pouch": "PouchCell", "swagelok": "SwagelokCell"}
TECHNIQUES = {
    "eis": ["ElectrochemicalImpedanceSpectroscopy"],
    "cycling": ["GalvanostaticCycling"],
    "stripping": ["GalvanostaticCycling", "lims:LithiumStrippingPlating"],
    "tga": ["Thermogravimetry"],
    "xrd": ["XrayDiffraction"],
}
# Substances by formula (the lab's chemicals; a formula the table lacks gives lims:Chemical).
SUBSTANCES = {
    "Li": "Lithium",
    "Cu": "Copper",
    "Al": "Aluminium",
    "Pt": "Platinum",
    "Li2CO3": "LithiumCarbonate",
    "Al(NO3)3·9H2O": "AluminiumNitrate",
    "LiN(SO2F)2": "LithiumBisfluorosulfonylimide",
    "LiN(SO2CF3)2": "LithiumBistrifluoromethanesulfonylimide",
    "LiNi0.8Co0.1Mn0.1O2": "LithiumNickelManganeseCobaltOxide811",
    "(C2H2F2)n": "PolyvinylideneFluoride",
    "C5H9NO": "NMethyl2Pyrrolidone",
}
# Carbon's formula is "C" whatever its form; the lab's conductive carbon is a carbon black.
CATEGORY_SUBSTANCES = {"conductive_carbon": "CarbonBlack"}


@functools.cache
def context_terms() -> dict[str, Any]:
    """The BattINFO context's term definitions (the vendored copy)."""
    return json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))["@context"]


def iri(term: str) -> str:
    """The IRI the context gives a term (KeyError: the term is not BattINFO's)."""
    value = context_terms()[term]
    return value if isinstance(value, str) else value["@id"]


def _unit(name: str) -> str:
    return name if name.startswith("lims:") else iri(name)


def quantity(kind: str, value, unit: str, description: str = "", node_id: str = "") -> dict | None:
    """A quantity node in BattINFO's shape; None for a value the record does not have."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    node: dict[str, Any] = {
        "@type": kind,
        "hasNumericalPart": {"@type": "RealData", "hasNumberValue": value},
        "hasMeasurementUnit": _unit(unit),
    }
    if node_id:
        node = {"@id": node_id, **node}
    if description:
        node["schema:description"] = description
    return node


def item_id(code: str) -> str:
    return f"items/{code}/"


def measurement_id(code: str) -> str:
    return f"measurements/{code}/"


def _ref(item: Item | None) -> dict | None:
    return {"@id": item_id(item.code)} if item is not None else None


def _compact(node: dict) -> dict:
    """Leave out what a record does not have (no empty values in the document)."""
    out = {}
    for key, value in node.items():
        if isinstance(value, list):
            value = [v for v in value if v is not None]
        if value not in (None, "", []):
            out[key] = value
    return out


def _ordered(items: Iterable[Item], user=None) -> list[Item]:
    """The items and every ancestor, each once, parents before children; with `user`, only
    those of projects the user sees (a hidden ancestor stays a code in its child's lineage)."""
    seen: dict[int, Item] = {}
    for item in items:
        seen.setdefault(item.pk, item)
        for row in core_selectors.lineage(item.pk, "ancestors"):
            seen.setdefault(row.id, None)
    missing = [pk for pk, it in seen.items() if it is None]
    for it in Item.objects.filter(pk__in=missing):
        seen[it.pk] = it
    if user is not None:
        seen = {pk: it for pk, it in seen.items() if permissions.can_view(user, it)}
    return sorted((it.specific for it in seen.values()), key=lambda it: (it.created_at, it.pk))


class _Document:
    def __init__(self) -> None:
        self.graph: list[dict] = []

    # -- items ---------------------------------------------------------------------------

    def item(self, item: Item) -> None:
        parents = LineageEdge.objects.filter(child=item).select_related("parent")
        node: dict[str, Any] = {
            "@id": item_id(item.code),
            "schema:identifier": item.code,
            "schema:name": f"{item.code} {item.summary}".strip(),
            "lims:kind": item.kind,
            "schema:dateCreated": item.created_at.isoformat(),
            "schema:description": item.notes,
            "prov:wasDerivedFrom": [_ref(e.parent) for e in parents.order_by("parent__code")],
        }
        builder = getattr(self, f"_{item.kind}", None)
        types, extra, properties = builder(item) if builder else (["lims:Chemical"], {}, [])
        properties = [*properties, *self.item_results(item)]
        node = {"@id": node["@id"], "@type": types, **node, **extra, "hasProperty": properties}
        self.graph.append(_compact(node))
        for m in Measurement.objects.filter(item=item).order_by("code"):
            self.measurement(m)

    @staticmethod
    def _reagent_lot(lot) -> tuple[list, dict, list]:
        chemical = lot.chemical
        substance = CATEGORY_SUBSTANCES.get(chemical.category) or SUBSTANCES.get(chemical.formula)
        types = [substance or "lims:Chemical", "lims:ReagentLot"]
        extra = {
            "schema:name": f"{lot.code} {chemical.name}",
            "lims:lotNumber": lot.lot_number,
            "schema:manufacturer": {"@type": "schema:Organization", "schema:name": lot.supplier},
        }
        return types, extra, []

    @staticmethod
    def _lagp_batch(batch) -> tuple[list, dict, list]:
        return (
            ["SolidElectrolyte", "Powder"],
            {"lims:phaseResult": batch.phase_result},
            [
                quantity("lims:AluminiumSubstitution", batch.x_al, "UnitOne"),
                quantity("lims:LithiumExcess", batch.li_excess_pct, "PercentUnit"),
                quantity("Mass", batch.yield_g, "Gram", "yield"),
            ],
        )

    @staticmethod
    def _pellet(pellet) -> tuple[list, dict, list]:
        return (
            ["SolidElectrolyte"],
            {},
            [
                quantity("Thickness", pellet.thickness_mm, "MilliMetre"),
                quantity("Diameter", pellet.diameter_mm, "MilliMetre"),
                quantity("Mass", pellet.mass_mg, "MilliGram"),
                quantity(
                    "lims:SinteringTemperature",
                    pellet.pellet_set.sintering_temperature_c,
                    "DegreeCelsius",
                ),
            ],
        )

    @staticmethod
    def _spe_membrane(membrane) -> tuple[list, dict, list]:
        extra = {
            "hasSolute": _ref(membrane.lifsi_lot),
            "hasConstituent": [
                _ref(membrane.peo_lot),
                _ref(membrane.pyr14fsi_lot),
                _ref(membrane.benzophenone_lot),
            ],
            "lims:molarRatio": membrane.molar_ratio,
            "lims:uvCrosslinked": membrane.uv_crosslinked,
        }
        return (
            ["PolymerElectrolyte"],
            extra,
            [quantity("Thickness", membrane.thickness_um, "MicroMetre")],
        )

    @staticmethod
    def _membrane_piece(piece) -> tuple[list, dict, list]:
        return (
            ["PolymerElectrolyte"],
            {},
            [
                quantity("Diameter", piece.diameter_mm, "MilliMetre"),
                quantity("Thickness", piece.measured_thickness_um, "MicroMetre"),
            ],
        )

    @staticmethod
    def _ile_batch(ile) -> tuple[list, dict, list]:
        water = ile.water_content_ppm * 1e-6 if ile.water_content_ppm is not None else None
        return (
            ["IonicLiquidElectrolyte"],
            {"hasSolvent": _ref(ile.pyr14fsi_lot), "hasSolute": _ref(ile.litfsi_lot)},
            [
                quantity(
                    "AmountFraction",
                    ile.pyr14fsi_mol_fraction,
                    "UnitOne",
                    "mole fraction of the ionic liquid (Pyr14FSI)",
                ),
                quantity("MassFractionOfWater", water, "UnitOne", "Karl Fischer"),
            ],
        )

    @staticmethod
    def _cathode_coating(coating) -> tuple[list, dict, list]:
        extra = {
            "hasActiveMaterial": _ref(coating.active_lot),
            "hasConductiveAdditive": _ref(coating.carbon_lot),
            "hasBinder": _ref(coating.binder_lot),
            "lims:massRatio": coating.mass_ratio,
        }
        return ["ElectrodeCoating"], extra, []

    @staticmethod
    def _electrode_disk(disk) -> tuple[list, dict, list]:
        extra = {
            "hasCoating": _ref(disk.coating),
            "hasCurrentCollector": _ref(disk.coating.foil_lot),
        }
        return (
            ["CoatedElectrode", "PositiveElectrode"],
            extra,
            [
                quantity("Diameter", disk.diameter_mm, "MilliMetre"),
                quantity(
                    "ActiveMassLoading", disk.active_loading_mg_cm2, "MilliGramPerSquareCentiMetre"
                ),
            ],
        )

    def _cell(self, cell) -> tuple[list, dict, list]:
        layers = list(cell.layers.select_related("item").order_by("position"))
        electrolytes: list[dict] = []
        for layer in layers:
            ref = _ref(layer.item)
            if layer.side == "electrolyte" and ref not in electrolytes:
                electrolytes.append(ref)
        extra = {
            "hasNegativeElectrode": self.electrode(cell, "negative", layers),
            "hasElectrolyte": electrolytes,
            "hasPositiveElectrode": self.electrode(cell, "positive", layers),
            "lims:notation": cell.notation,
        }
        if cell.assembled_on:
            extra["schema:dateCreated"] = cell.assembled_on.isoformat()
        properties = [
            quantity("Area", cell.active_area_cm2, "SquareCentiMetre", "active area"),
            quantity("Mass", cell.active_mass_mg, "MilliGram", "positive active material"),
            quantity("DewPointTemperature", cell.dew_point_c, "DegreeCelsius", "dry room"),
            quantity("CelsiusTemperature", cell.test_temperature_c, "DegreeCelsius", "test"),
        ]
        types = ["BatteryCell", CELL_FORMATS.get(cell.format)]
        return [t for t in types if t], extra, properties

    def electrode(self, cell, side: str, layers) -> dict | None:
        """One side of the stack: the disk itself when the side is one disk, else a node made
        of its layers (a Li foil; Cu and sputtered Pt of a blocking electrode)."""
        items = [layer.item.specific for layer in layers if layer.side == side]
        if not items:
            return None
        if len(items) == 1 and items[0].kind == "electrode_disk":
            return _ref(items[0])
        by_role: dict[str, list] = {}
        for it in items:
            category = it.chemical.category if it.kind == "reagent_lot" else ""
            role = {
                "lithium_metal": "hasActiveMaterial",
                "current_collector": "hasCurrentCollector",
            }.get(category, "hasConstituent")
            by_role.setdefault(role, []).append(_ref(it))
        types = ["NegativeElectrode" if side == "negative" else "PositiveElectrode"]
        if "hasActiveMaterial" in by_role:
            types.append("LithiumElectrode")
        else:
            types.append("Electrode")
        node = {"@id": f"{item_id(cell.code)}#{side}-electrode", "@type": types, **by_role}
        self.graph.append(node)
        return {"@id": node["@id"]}

    # -- results and measurements ---------------------------------------------------------

    @staticmethod
    def item_results(item: Item) -> list[dict | None]:
        """Results of a temperature series, which belong to the sample (activation energy)."""
        results = Result.objects.filter(item=item, measurement__isnull=True, kind="arrhenius")
        return [
            quantity(
                "ActivationEnergy",
                r.values.get("activation_energy_eV"),
                "ElectronVolt",
                "Arrhenius fit of the conductivity over temperature",
                f"{item_id(item.code)}#activation-energy",
            )
            for r in results
        ]

    @staticmethod
    def outputs(m: Measurement) -> list[dict | None]:
        base = measurement_id(m.code)
        at = f" at {m.temperature_c:g} °C" if m.temperature_c is not None else ""
        out: list[dict | None] = []
        for r in m.results.all():
            v = r.values or {}
            if r.kind == "conductivity":
                out.append(
                    quantity(
                        "IonicConductivity",
                        v.get("conductivity_s_cm"),
                        "SiemensPerCentiMetre",
                        f"{m.code}{at}",
                        f"{base}#ionic-conductivity",
                    )
                )
            elif r.kind == "cycling_summary":
                out += [
                    quantity(
                        "SpecificCapacity",
                        v.get("first_discharge_mAh_g"),
                        "lims:MilliAmpereHourPerGram",
                        "first-cycle discharge capacity per gram of positive active material",
                        f"{base}#first-discharge-capacity",
                    ),
                    quantity(
                        "CoulombicEfficiency",
                        v.get("mean_ce_pct"),
                        "PercentUnit",
                        "mean over the cycles after the reference cycle",
                        f"{base}#mean-coulombic-efficiency",
                    ),
                    quantity(
                        "lims:CapacityRetention",
                        v.get("retention_pct"),
                        "PercentUnit",
                        f"last cycle against cycle {v.get('reference_cycle')}",
                        f"{base}#capacity-retention",
                    ),
                    quantity(
                        "TotalNumberOfCycles",
                        v.get("n_cycles"),
                        "UnitOne",
                        node_id=f"{base}#cycles",
                    ),
                ]
            elif r.kind == "stripping":
                out += [
                    quantity(
                        "Overpotential",
                        v.get("median_overpotential_V"),
                        "Volt",
                        "median over the test",
                        f"{base}#median-overpotential",
                    ),
                    quantity(
                        "Duration",
                        v.get("short_circuit_time_h"),
                        "Hour",
                        "time to short circuit",
                        f"{base}#short-circuit-time",
                    ),
                ]
            elif r.kind == "tga":
                out.append(
                    quantity(
                        "lims:OnsetTemperature",
                        v.get("onset_C"),
                        "DegreeCelsius",
                        node_id=f"{base}#onset",
                    )
                )
        return [o for o in out if o is not None]

    def measurement(self, m: Measurement) -> None:
        outputs = self.outputs(m)
        node = {
            "@id": measurement_id(m.code),
            "@type": TECHNIQUES.get(m.technique, ["Measurement"]),
            "schema:identifier": m.code,
            "schema:name": f"{m.code} {m.get_technique_display()}",
            "schema:dateCreated": m.created_at.isoformat(),
            "hasMeasurementSample": _ref(m.item),
            "hasMeasurementParameter": [
                quantity("CelsiusTemperature", m.temperature_c, "DegreeCelsius"),
            ],
            "hasOutput": [{"@id": o["@id"]} for o in outputs],
        }
        self.graph.append(_compact(node))
        # The results are properties of the sample too: a reader asking "what is this
        # pellet's ionic conductivity" finds it on the pellet.
        self.graph.extend(outputs)
        sample = next(n for n in self.graph if n.get("@id") == item_id(m.item.code))
        sample.setdefault("hasProperty", []).extend({"@id": o["@id"]} for o in outputs)


def document(items: Iterable[Item], base: str = DEFAULT_BASE, user=None) -> dict[str, Any]:
    """The items with their ancestry (records, results, measurements) as one JSON-LD document
    in BattINFO's vocabulary; node ids relative to `base` (the site's address, ending in /)."""
    doc = _Document()
    for item in _ordered(items, user):
        doc.item(item)
    return {
        "@context": [CONTEXT_URL, {"lims": LIMS_NS, "@base": base}],
        "@graph": doc.graph,
    }


def dumps(items: Iterable[Item], base: str = DEFAULT_BASE, user=None) -> bytes:
    return json.dumps(document(items, base, user), indent=1, ensure_ascii=False).encode()
