"""Results where people look, in the browser: the item page's headline and plot, a list
sorted by clicking its headings and exported as CSV, the dashboard, the lineage graph."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from measurements.models import Measurement

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def plotted(page, selector: str) -> dict:
    """Traces and axis titles of a drawn Plotly plot."""
    page.wait_for_selector(f"{selector}[data-plotted=true]")
    return page.evaluate(
        """(sel) => { const el = document.querySelector(sel);
        const title = (a) => a && a.title && a.title.text;
        return {traces: el.data.length, names: el.data.map(t => t.name),
                x: title(el.layout.xaxis), y: title(el.layout.yaxis), y2: title(el.layout.yaxis2),
                rendered: el.querySelectorAll('.xtitle, .ytitle, .y2title').length}; }""",
        selector,
    )


def test_item_pages_lead_with_their_results_and_a_plot(logged_in, measured_demo):
    page = logged_in
    page.goto("/items/PEL-0003/")
    headline = page.get_by_test_id("headline")
    expect(headline.locator('[data-key="sigma"] dd')).to_have_text("3.24e-04 ± 5.1e-07")
    expect(headline.locator('[data-key="ea"] dd')).to_contain_text("0.36079 ± 0.00011")
    expect(headline.locator('[data-key="relative_density"] dd')).to_contain_text("91.91")
    plot = plotted(page, "[data-testid=headline-plot]")
    assert plot["traces"] == 2 and plot["names"] == ["measured", "Arrhenius, Ea 0.3608 eV"]
    assert (plot["x"], plot["y"]) == ("1000/T (1/K)", "conductivity σ (S/cm)")
    assert plot["rendered"] == 2  # both titles are drawn, not only configured
    page.goto("/items/CELL-0005/")
    expect(page.locator('[data-key="first_discharge"] dd')).to_contain_text("199.0")
    expect(page.locator('[data-key="retention"] dd')).to_contain_text("82.70")
    expect(page.locator('[data-key="mean_ce"] dd')).to_contain_text("99.84")
    plot = plotted(page, "[data-testid=headline-plot]")
    assert plot["traces"] == 2
    assert (plot["x"], plot["y"], plot["y2"]) == (
        "cycle",
        "discharge capacity (mAh/g)",
        "coulombic efficiency (%)",
    )


def test_a_list_sorts_by_clicking_a_heading_and_exports_what_it_shows(logged_in, measured_demo):
    page = logged_in
    page.goto("/synthesis/pellets/")
    heading = page.get_by_role("link", name="σ nearest 25 °C (S/cm)")
    heading.click()
    page.wait_for_url("**/synthesis/pellets/?sort=conductivity_s_cm*")
    first = page.locator("[data-testid=list] tbody tr:first-child td:nth-child(2)")
    expect(first).to_have_text("PEL-0001")  # 1.76e-4 S/cm, the lowest
    page.get_by_role("link", name="σ nearest 25 °C (S/cm) ▲").click()
    page.wait_for_url("**/synthesis/pellets/?sort=-conductivity_s_cm*")
    expect(first).to_have_text("PEL-0003")  # 3.24e-4 S/cm, the 900 °C pellet
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("σ nearest 25 °C")
    # Filter (htmx swaps the rows): the sort stays, and the export follows both.
    page.fill("input[name=sintering_temperature_c]", "900")
    page.press("input[name=sintering_temperature_c]", "Tab")
    expect(page.locator(".count")).to_contain_text("6 found")
    expect(first).to_have_text("PEL-0003")
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][0] == "code" and rows[0][-3:] == [
        "σ nearest 25 °C (S/cm)",
        "σ measured at (°C)",
        "Ea, Arrhenius (eV)",
    ]
    assert len(rows) == 7 and rows[1][0] == "PEL-0003"
    assert float(rows[1][-3]) == pytest.approx(3.2393e-4, rel=1e-4)
    assert {r[2] for r in rows[1:]} == {"900.0"}


def test_the_dashboard_shows_trouble_progress_and_recent_plots(logged_in, measured_demo):
    page = logged_in
    Measurement.objects.filter(code="MEAS-0001").update(
        status="failed", status_detail="No impedance columns found."
    )
    Measurement.objects.filter(code="MEAS-0016").update(status="processing", progress=40)
    page.goto("/")
    attention = page.get_by_test_id("attention")
    expect(attention).to_contain_text("MEAS-0001")
    expect(attention).to_contain_text("No impedance columns found.")
    running = page.get_by_test_id("running")
    expect(running.locator("progress")).to_have_attribute("value", "40")
    sigma = plotted(page, "[data-testid=plot-recent-conductivities]")
    assert sigma["traces"] == 5 and sigma["y"] == "conductivity σ (S/cm)"
    cycling = plotted(page, "[data-testid=plot-recent-capacities]")
    assert cycling["traces"] == 2 and cycling["x"] == "cycle"
    # The panel polls: progress moves, and once it is done the page reloads.
    Measurement.objects.filter(code="MEAS-0016").update(progress=75)
    expect(running.locator("progress")).to_have_attribute("value", "75", timeout=6000)
    Measurement.objects.filter(code="MEAS-0016").update(status="done", progress=100)
    expect(page.get_by_test_id("running")).to_contain_text(
        "Nothing is being processed.", timeout=8000
    )


def test_the_lineage_graph_opens_the_item_clicked(logged_in, measured_demo):
    page = logged_in
    page.goto("/items/CELL-0005/")
    graph = page.get_by_test_id("lineage-graph")
    expect(graph.locator("a.node")).to_have_count(11)
    expect(graph.locator("a.node.current")).to_have_attribute("data-node", "CELL-0005")
    expect(graph.locator(".legend .key")).to_have_count(9)
    graph.locator('a.node[data-node="PEL-0007"]').click()
    page.wait_for_url("**/items/PEL-0007/")
    page.get_by_test_id("lineage-graph").locator('a.node[data-node="LAGP-0001"]').click()
    page.wait_for_url("**/items/LAGP-0001/")
    page.get_by_test_id("lineage-graph").locator("a.node", has_text="reagent lots").click()
    page.wait_for_url("**/synthesis/reagents/?descendant=LAGP-0001")
    expect(page.locator(".count")).to_contain_text("4 found")
