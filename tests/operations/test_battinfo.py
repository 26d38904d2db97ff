"""BattINFO / EMMO JSON-LD (issue 12 §3): cells, electrolytes, electrodes and measurements in the
battery ontology's terms, read back as RDF by rdflib (BSD-3-Clause) against the vendored copy
of the ontology's context, with no network: the triples carry the real values (σ of a pellet
from a real EIS file, a cell's layers, a real cycling file's capacity)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from rdflib import RDF, Graph, Literal, URIRef

from core.models import Item
from lims import battinfo, eln
from measurements.models import Result
from tests.conftest import token_client
from tests.operations.test_eln import MACCOR, MPT, upload
from tests.store import use_private_store

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "http://testserver/"


def T(term: str) -> URIRef:  # noqa: N802 - reads like the ontology's term
    return URIRef(battinfo.iri(term))


def graph(doc: dict) -> Graph:
    """The document as RDF, its context URL swapped for the vendored copy (no network)."""
    context = doc["@context"]
    assert context[0] == battinfo.CONTEXT_URL
    local = {**doc, "@context": [battinfo.context_terms(), *context[1:]]}
    return Graph().parse(data=json.dumps(local), format="json-ld")


def node(code: str) -> URIRef:
    return URIRef(f"{BASE}items/{code}/")


def value(g: Graph, subject, kind: str):
    """The number and unit of the subject's property of the given kind (a BattINFO term, or
    one of ours as `lims:...`)."""
    cls = URIRef(battinfo.LIMS_NS + kind[5:]) if kind.startswith("lims:") else T(kind)
    (prop,) = [p for p in g.objects(subject, T("hasProperty")) if (p, RDF.type, cls) in g]
    number = g.value(g.value(prop, T("hasNumericalPart")), T("hasNumberValue"))
    return number.toPython(), g.value(prop, T("hasMeasurementUnit"))


@pytest.fixture
def study(settings, tmp_path, demo, staff, django_capture_on_commit_callbacks):
    use_private_store(settings, tmp_path / "store")
    api = token_client(staff)
    pellet = demo["blocking"].layers.get(side="electrolyte").item.code
    eis = upload(
        api, pellet, "eis", MPT, django_capture_on_commit_callbacks, area_cm2=1.0, temperature_c=25
    )
    cycling = upload(
        api, "CELL-0005", "cycling", MACCOR, django_capture_on_commit_callbacks, active_mass_mg=3
    )
    return demo, eis, cycling


def used_terms(value, found: set[str]) -> set[str]:
    """Every property name and class name a JSON-LD document uses."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "@type":
                found.update(item if isinstance(item, list) else [item])
            elif not key.startswith("@"):
                found.add(key)
            used_terms(item, found)
    elif isinstance(value, list):
        for item in value:
            used_terms(item, found)
    return found


def test_every_term_is_battinfos_or_a_documented_lims_term(study):
    """JSON-LD drops a term its context does not define without a word: every name the
    export writes is defined by the ontology's context, or is one of ours and documented."""
    demo, *_ = study
    doc = battinfo.document([Item.objects.get(code=c) for c in ("CELL-0001", "CELL-0005")])
    terms = used_terms(doc["@graph"], set())
    ours = {t for t in terms if t.startswith("lims:")}
    prefixed = {t for t in terms if ":" in t} - ours
    assert ours <= set(battinfo.LIMS_TERMS), ours - set(battinfo.LIMS_TERMS)
    assert {t.split(":")[0] for t in prefixed} <= {"schema", "prov"}
    context = battinfo.context_terms()
    assert all(t in context for t in terms - ours - prefixed), terms - set(context)
    # The units are IRIs the context gives (or our documented one), never names.
    units = {n["hasMeasurementUnit"] for n in _walk(doc["@graph"]) if "hasMeasurementUnit" in n}
    known = {battinfo.iri(t) for t in ("MilliMetre", "SiemensPerCentiMetre", "MilliGram")}
    assert known <= units
    assert all(u.startswith("https://w3id.org/emmo") or u in battinfo.LIMS_TERMS for u in units)


def test_the_whole_measured_demo_uses_only_defined_terms_and_has_each_result(demo_measured):
    """Every kind of record and result the demo has (stripping, TGA, temperature series):
    the document still uses only defined terms, and each result kind shows up as triples."""
    doc = battinfo.document(Item.objects.all(), BASE)
    terms = used_terms(doc["@graph"], set())
    ours = {t for t in terms if t.startswith("lims:")}
    assert ours <= set(battinfo.LIMS_TERMS), ours - set(battinfo.LIMS_TERMS)
    context = battinfo.context_terms()
    assert all(t in context for t in terms if ":" not in t), terms - set(context)
    g = graph(doc)
    cell = node(demo_measured["sym_bare"].code)
    kinds = {
        kind: {
            s
            for s in g.subjects(
                RDF.type, URIRef(battinfo.LIMS_NS + kind[5:]) if ":" in kind else T(kind)
            )
        }
        for kind in (
            "ActivationEnergy",
            "Overpotential",
            "lims:OnsetTemperature",
            "CoulombicEfficiency",
            "Thermogravimetry",
            "lims:LithiumStrippingPlating",
        )
    }
    assert all(kinds.values()), [k for k, v in kinds.items() if not v]
    best = node(demo_measured["pellets"][900][0].code)
    energy, unit = value(g, best, "ActivationEnergy")
    series = Result.objects.get(item__code=demo_measured["pellets"][900][0].code, kind="arrhenius")
    assert energy == pytest.approx(series.values["activation_energy_eV"], rel=1e-12)
    assert unit == T("ElectronVolt") and 0.1 < energy < 1.0
    assert (cell, RDF.type, T("CoinCell")) in g


def _walk(value):
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def test_a_pellets_conductivity_and_a_blocking_cells_layers_as_triples(study):
    demo, eis, _ = study
    blocking = demo["blocking"]
    pellet = eis.item.specific
    doc = battinfo.document([blocking], BASE)
    g = graph(doc)

    # The cell: a coin cell (BattINFO's class) whose electrolyte is the pellet.
    cell = node(blocking.code)
    assert (cell, RDF.type, T("CoinCell")) in g and (cell, RDF.type, T("BatteryCell")) in g
    assert (cell, T("hasElectrolyte"), node(pellet.code)) in g
    # Its sides: Cu current collector with sputtered Pt, on both electrodes.
    cu, pt = [layer.item for layer in blocking.layers.filter(side="negative").order_by("position")]
    for side in ("hasNegativeElectrode", "hasPositiveElectrode"):
        electrode = g.value(cell, T(side))
        assert (electrode, RDF.type, T("Electrode")) in g
        assert (electrode, T("hasCurrentCollector"), node(cu.code)) in g
        assert (electrode, T("hasConstituent"), node(pt.code)) in g
    assert (node(cu.code), RDF.type, T("Copper")) in g
    assert (node(pt.code), RDF.type, T("Platinum")) in g

    # The pellet: a solid electrolyte with its geometry and the σ the worker fitted from the
    # real BioLogic file, in S/cm.
    sample = node(pellet.code)
    assert (sample, RDF.type, T("SolidElectrolyte")) in g
    assert value(g, sample, "Thickness") == (pellet.thickness_mm, T("MilliMetre"))
    assert value(g, sample, "Diameter") == (pellet.diameter_mm, T("MilliMetre"))
    sigma = Result.objects.get(measurement=eis, kind="conductivity").values["conductivity_s_cm"]
    assert 1e-9 < sigma < 1
    assert value(g, sample, "IonicConductivity") == (
        pytest.approx(sigma, rel=1e-12),
        T("SiemensPerCentiMetre"),
    )
    # ... made by an EIS measurement at 25 °C of this pellet, whose output it is.
    measurement = URIRef(f"{BASE}measurements/{eis.code}/")
    assert (measurement, RDF.type, T("ElectrochemicalImpedanceSpectroscopy")) in g
    assert (measurement, T("hasMeasurementSample"), sample) in g
    (conductivity,) = g.objects(measurement, T("hasOutput"))
    assert (sample, T("hasProperty"), conductivity) in g
    (temperature,) = g.objects(measurement, T("hasMeasurementParameter"))
    assert g.value(g.value(temperature, T("hasNumericalPart")), T("hasNumberValue")) == Literal(
        25.0
    )
    # Lineage: the pellet was made from the LAGP batch, a solid-electrolyte powder.
    batch = node(pellet.pellet_set.batch.code)
    assert (sample, URIRef("http://www.w3.org/ns/prov#wasDerivedFrom"), batch) in g
    assert (batch, RDF.type, T("Powder")) in g
    # Where BattINFO has no term, ours: the pellet set's sintering temperature, in °C.
    assert value(g, sample, "lims:SinteringTemperature") == (
        pellet.pellet_set.sintering_temperature_c,
        T("DegreeCelsius"),
    )


def test_a_full_cells_stack_and_cycling_capacity_as_triples(study):
    demo, _, cycling = study
    cell_item = Item.objects.get(code="CELL-0005").specific
    g = graph(battinfo.document([cell_item], BASE))
    cell = node(cell_item.code)
    assert (cell, RDF.type, T("PouchCell")) in g
    layers = {layer.side: layer for layer in cell_item.layers.select_related("item")}
    # Positive: the NCM811 disk, a coated electrode on Al foil whose coating's active material
    # is an individual of BattINFO's NCM811 class.
    disk = layers["positive"].item.specific
    assert (cell, T("hasPositiveElectrode"), node(disk.code)) in g
    assert (node(disk.code), RDF.type, T("CoatedElectrode")) in g
    assert (node(disk.code), T("hasCurrentCollector"), node(disk.coating.foil_lot.code)) in g
    coating = node(disk.coating.code)
    assert (node(disk.code), T("hasCoating"), coating) in g
    active = g.value(coating, T("hasActiveMaterial"))
    assert (active, RDF.type, T("LithiumNickelManganeseCobaltOxide811")) in g
    assert value(g, node(disk.code), "ActiveMassLoading") == (
        disk.active_loading_mg_cm2,
        T("MilliGramPerSquareCentiMetre"),
    )
    # Negative: lithium foil, a lithium electrode.
    negative = g.value(cell, T("hasNegativeElectrode"))
    assert (negative, RDF.type, T("LithiumElectrode")) in g
    assert (g.value(negative, T("hasActiveMaterial")), RDF.type, T("Lithium")) in g
    # Electrolytes: every electrolyte layer's item once (ILE, SPE piece, LAGP pellet).
    electrolytes = set(g.objects(cell, T("hasElectrolyte")))
    expected = {node(layer.item.code) for layer in cell_item.layers.filter(side="electrolyte")}
    assert electrolytes == expected and len(expected) == 3
    kinds = {t for e in electrolytes for t in g.objects(e, RDF.type)}
    assert {T("IonicLiquidElectrolyte"), T("PolymerElectrolyte"), T("SolidElectrolyte")} <= kinds
    ile = next(e for e in electrolytes if (e, RDF.type, T("IonicLiquidElectrolyte")) in g)
    assert (
        g.value(ile, T("hasSolute")),
        RDF.type,
        T("LithiumBistrifluoromethanesulfonylimide"),
    ) in g
    # The real Maccor file's first discharge capacity, per gram of active material.
    summary = Result.objects.get(measurement=cycling, kind="cycling_summary").values
    number, unit = value(g, cell, "SpecificCapacity")
    assert number == pytest.approx(summary["first_discharge_mAh_g"], rel=1e-12)
    assert str(unit) == battinfo.LIMS_NS + "MilliAmpereHourPerGram"
    measurement = URIRef(f"{BASE}measurements/{cycling.code}/")
    assert (measurement, RDF.type, T("GalvanostaticCycling")) in g
    assert value(g, cell, "Area") == (cell_item.active_area_cm2, T("SquareCentiMetre"))


def test_api_download_and_the_item_page_link(study, viewer, client):
    demo, eis, _ = study
    pellet = eis.item.code
    response = token_client(viewer).get(f"/api/items/{pellet.lower()}/battinfo.jsonld")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ld+json"
    assert response["Content-Disposition"] == f'attachment; filename="{pellet}.battinfo.jsonld"'
    assert response["X-Content-Type-Options"] == "nosniff"
    doc = json.loads(response.content)
    assert doc["@context"][1]["@base"] == BASE
    g = graph(doc)
    assert (node(pellet), RDF.type, T("SolidElectrolyte")) in g
    missing = token_client(viewer).get("/api/items/PEL-9999/battinfo.jsonld")
    assert missing.status_code == 404 and "PEL-9999" in missing.json()["detail"]
    assert client.get(f"/api/items/{pellet}/battinfo.jsonld").status_code in (401, 403)

    client.force_login(viewer)
    page = client.get(f"/items/{pellet}/").content.decode()
    assert f'href="/api/items/{pellet}/battinfo.jsonld"' in page
    assert client.get(f"/api/items/{pellet}/battinfo.jsonld").status_code == 200


def test_the_eln_file_carries_the_battinfo_document_and_still_imports(study):
    demo, eis, _ = study
    out = io.BytesIO()
    eln.export_eln(demo["blocking"], out)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        root = f"{demo['blocking'].code}-eln"
        metadata = json.loads(z.read(f"{root}/ro-crate-metadata.json"))
        described = z.read(f"{root}/battinfo.jsonld")
    entities = {e["@id"]: e for e in metadata["@graph"]}
    entry = entities["./battinfo.jsonld"]
    assert entry["encodingFormat"] == "application/ld+json"
    assert {"@id": "./battinfo.jsonld"} in entities["./"]["hasPart"]
    assert entry["contentSize"] == str(len(described))
    g = graph(json.loads(described))
    sigma = Result.objects.get(measurement=eis, kind="conductivity").values["conductivity_s_cm"]
    pellet = URIRef(f"{battinfo.DEFAULT_BASE}items/{eis.item.code}/")
    assert value(g, pellet, "IonicConductivity")[0] == pytest.approx(sigma, rel=1e-12)
    # The importer takes the records and leaves the description (a File) alone.
    before = Item.objects.count()
    report = eln.import_eln(io.BytesIO(out.getvalue()))
    assert Item.objects.count() == before + len(report.codes) and report.codes
