"""The home page as a dashboard, and the lineage graph of the item page."""

from __future__ import annotations

import json
import re

import pytest

from core import lineage_graph, selectors
from core.models import Item
from measurements.models import Measurement

pytestmark = pytest.mark.django_db


def _panel(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]


def test_the_dashboard_puts_what_needs_a_look_first(staff_client, measured_demo):
    Measurement.objects.filter(code="MEAS-0001").update(
        status="failed", status_detail="No impedance columns in exampleDataX.mpt"
    )
    Measurement.objects.filter(code="MEAS-0017").update(
        status="needs_input", status_detail="The sample's thickness is missing."
    )
    Measurement.objects.filter(code="MEAS-0015").update(status="done_with_warnings")
    Measurement.objects.filter(code="MEAS-0016").update(status="processing", progress=40)
    Measurement.objects.filter(code="MEAS-0020").update(status="queued")
    html = staff_client.get("/").content.decode()
    order = [
        html.index(f'data-testid="{t}"')
        for t in ("attention", "running", "records", "recent", "result-plots")
    ]
    assert order == sorted(order)
    attention = _panel(html, "attention")
    # Doubtful numbers first, then waiting for an input, then failed (as every list orders them).
    assert re.findall(r">(MEAS-\d{4})<", attention) == ["MEAS-0015", "MEAS-0017", "MEAS-0001"]
    assert "No impedance columns in exampleDataX.mpt" in attention
    assert "The sample&#x27;s thickness is missing." in attention
    running = _panel(html, "running")
    assert re.findall(r">(MEAS-\d{4})<", running) == ["MEAS-0016", "MEAS-0020"]
    assert '<progress max="100" value="40">' in running and "40 %" in running
    assert 'hx-trigger="every 2s"' in running


def test_the_running_panel_polls_until_done_then_reloads_the_page(staff_client, measured_demo):
    Measurement.objects.filter(code="MEAS-0016").update(status="processing", progress=70)
    response = staff_client.get("/measurements/dashboard/running/?was=processing")
    assert "HX-Refresh" not in response and 'value="70"' in response.content.decode()
    Measurement.objects.filter(code="MEAS-0016").update(status="done", progress=100)
    response = staff_client.get("/measurements/dashboard/running/?was=processing")
    assert response["HX-Refresh"] == "true"
    assert "Nothing is being processed." in response.content.decode()
    assert "hx-trigger" not in response.content.decode()  # it stops polling


def test_the_dashboard_plots_recent_results(staff_client, measured_demo):
    html = staff_client.get("/").content.decode()
    sigma = json.loads(
        re.search(r'id="recent-conductivities" type="application/json">(.*?)</script>', html).group(
            1
        )
    )
    # One trace per sample: SPE-0001 at 7 temperatures, PEL-0003 at 4, three pellets at 25 °C.
    assert {t["name"]: len(t["x"]) for t in sigma["traces"]} == {
        "SPE-0001": 7,
        "PEL-0003": 4,
        "PEL-0009": 1,
        "PEL-0011": 1,
        "PEL-0001": 1,
    }
    assert sigma["layout"]["xaxis"]["title"] == "1000/T (1/K)"
    cycling = json.loads(
        re.search(r'id="recent-capacities" type="application/json">(.*?)</script>', html).group(1)
    )
    assert [(t["name"], len(t["x"])) for t in cycling["traces"]] == [
        ("CELL-0006 (MEAS-0016)", 60),
        ("CELL-0005 (MEAS-0015)", 400),
    ]
    assert cycling["layout"]["yaxis"]["title"] == "discharge capacity (mAh/g)"


def test_an_empty_lab_has_a_calm_dashboard(staff_client):
    html = staff_client.get("/").content.decode()
    assert "Nothing failed, waits for an input or has doubtful numbers." in html
    assert "Nothing is being processed." in html
    assert 'data-testid="result-plots"' not in html and "plotly" not in html


def _graph(code: str, depth=None) -> lineage_graph.Graph:
    item = Item.objects.get(code=code).specific
    return lineage_graph.build(
        item,
        selectors.lineage(item.pk, "ancestors", depth),
        selectors.lineage(item.pk, "descendants", depth),
    )


def test_the_graph_puts_ancestors_left_and_collapses_reagent_lots(demo):
    graph = _graph("CELL-0005")
    columns = {}
    for node in graph.nodes:
        columns.setdefault(node.column, []).append(node.label)
    assert columns[0] == ["CELL-0005"]
    assert sorted(columns[-1]) == ["ELD-0001", "ILE-0001", "PEL-0007", "RGT-0015", "SPEP-0003"]
    assert sorted(columns[-2]) == ["2 reagent lots", "CAT-0001", "LAGP-0001", "SPE-0001"]
    assert columns[-3] == ["12 reagent lots"]
    assert max(columns) == 0  # nothing went into the cell
    x = {n.label: n.x for n in graph.nodes}
    assert x["12 reagent lots"] < x["LAGP-0001"] < x["PEL-0007"] < x["CELL-0005"]
    edges = {(e.source.label, e.target.label) for e in graph.edges}
    assert ("PEL-0007", "CELL-0005") in edges and ("LAGP-0001", "PEL-0007") in edges
    assert ("12 reagent lots", "LAGP-0001") in edges
    lots = next(n for n in graph.nodes if n.label == "12 reagent lots")
    assert lots.url == "/synthesis/reagents/?descendant=CELL-0005"
    assert [g["label"] for g in graph.legend] == [
        "Reagent lot",
        "LAGP powder batch",
        "LAGP pellet",
        "SPE membrane",
        "SPE membrane piece",
        "ILE batch",
        "Cathode coating",
        "Electrode disk",
        "Cell",
    ]


def test_a_wide_column_shows_eight_and_one_more_node_and_depth_limits(demo):
    graph = _graph("LAGP-0001")
    right = [n for n in graph.nodes if n.column == 1]
    pellets = [n for n in right if n.kind == "pellet"]
    # 12 pellets: eight drawn, the other four as one node.
    assert len(pellets) == 9 and [n.collapsed for n in pellets].count(True) == 1
    more = next(n for n in pellets if n.collapsed)
    assert more.label == "+4 more LAGP pellets"
    assert more.url == "/synthesis/pellets/?ancestor=LAGP-0001"
    assert {n.column for n in graph.nodes} == {-1, 0, 1, 2}  # lots, batch, pellets, cells
    assert {n.column for n in _graph("LAGP-0001", depth=1).nodes} == {-1, 0, 1}


def test_the_item_page_draws_the_graph_with_links(staff_client, demo):
    html = staff_client.get("/items/CELL-0005/?depth=1").content.decode()
    svg = html.split('data-testid="lineage-graph"', 1)[1].split("</figure>", 1)[0]
    links = set(re.findall(r'<a href="([^"]+)" class="node', svg))
    assert links == {
        "/items/CELL-0005/",
        "/items/ELD-0001/",
        "/items/ILE-0001/",
        "/items/PEL-0007/",
        "/items/RGT-0015/",
        "/items/SPEP-0003/",
    }
    assert svg.count("<path ") == 5
