"""Comparing items and exploring process against performance in the browser: tick items on a
list or in a lineage, press Compare, and read each plot's axes and traces off the Plotly divs;
the explorer's address round-trips, a click on a point opens the item, and its CSV download is
the table it shows."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLOT = """id => {
  const el = document.getElementById(id);
  return {traces: el.data.length, names: el.data.map(t => t.name),
          x: el.layout.xaxis.title.text, y: el.layout.yaxis.title.text};
}"""


def plot(page, testid):
    page.wait_for_selector(f"[data-testid={testid}][data-plotted=true]")
    return page.evaluate(PLOT, f"plot-{testid.removeprefix('plot-')}")


def test_tick_cells_on_the_list_and_compare_their_cycling(logged_in, demo_measured):
    page = logged_in
    full, bare = demo_measured["full_spe"], demo_measured["full_bare"]
    page.goto("/cells/")
    page.get_by_label(f"select {full.code}").check()
    page.get_by_label(f"select {bare.code}").check()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/compare/?items=*")
    # The list shows the newest first: the address holds the selection in that order.
    assert page.url.endswith(f"/compare/?items={bare.code}&items={full.code}")
    capacity = plot(page, "plot-capacity")
    assert capacity == {
        "traces": 2,
        "names": [bare.code, full.code],
        "x": "cycle number",
        "y": "discharge capacity (mAh/g)",
    }
    retention = plot(page, "plot-retention")
    assert (retention["traces"], retention["y"]) == (
        2,
        "capacity retention (% of the reference cycle)",
    )
    profiles = plot(page, "plot-profiles")
    assert (profiles["traces"], profiles["x"], profiles["y"]) == (
        2,
        "specific capacity (mAh/g)",
        "cell voltage (V)",
    )
    # The cycle is in the address too: cycle 100 is beyond the 60-cycle cell, which is said.
    page.fill("input[name=cycle]", "100")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/compare/?items=*&cycle=100")
    assert plot(page, "plot-profiles")["names"] == [full.code]
    assert f"{bare.code}: no cycle 100 (cycles 1–60)" in page.inner_text(
        "[data-testid=profile-problems]"
    )
    assert page.locator("[data-testid=plot-nyquist]").count() == 0


def test_pellets_from_the_list_give_nyquist_and_arrhenius_plots(logged_in, demo_measured):
    page = logged_in
    best = demo_measured["pellets"][900][0]  # 25, 40, 60, 80 °C
    other = demo_measured["pellets"][850][0]  # 25 °C only
    page.goto("/synthesis/pellets/")
    page.get_by_label(f"select {other.code}").check()
    page.get_by_label(f"select {best.code}").check()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/compare/?items=*")
    nyquist = plot(page, "plot-nyquist")
    assert (nyquist["traces"], nyquist["x"], nyquist["y"]) == (5, "Z' (Ω)", "−Z'' (Ω)")
    equal = page.evaluate("() => document.getElementById('plot-nyquist').layout.yaxis.scaleanchor")
    assert equal == "x"
    arrhenius = plot(page, "plot-arrhenius")
    assert arrhenius["x"] == "1000/T (1/K)"
    assert arrhenius["y"] == "log₁₀ σ (σ in S/cm)"
    assert sorted(arrhenius["names"]) == sorted(
        [
            f"{other.code} (no fit: fewer than 3 temperatures)",
            best.code,
            f"{best.code} Arrhenius, Ea = 0.361 eV",
        ]
    )
    assert page.locator("[data-testid=plot-capacity]").count() == 0


def test_compare_from_an_items_lineage(logged_in, demo_measured):
    page = logged_in
    spe, cell = demo_measured["spe"], demo_measured["full_spe"]
    page.goto(f"/items/{spe.code}/")
    page.locator("[data-testid=descendants]").get_by_label(f"compare {cell.code}").check()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(f"**/compare/?items={spe.code}&items={cell.code}")
    assert plot(page, "plot-nyquist")["traces"] == 7  # 20-80 °C
    names = plot(page, "plot-arrhenius")["names"]
    assert names[0] == spe.code and len(names) == 3
    assert names[1].startswith(f"{spe.code} Arrhenius, Ea = 0.2")
    assert names[2].startswith(f"{spe.code} VFT, pseudo-Ea = 0.0")
    assert plot(page, "plot-capacity")["names"] == [cell.code]
    assert page.inner_text("[data-testid=lacking-capacity]") == (
        f"{spe.code}: no cycling data with specific capacities."
    )


EXPLORE_DATA = """() => {
  const el = document.getElementById('plot-explore');
  return {x: el.data.map(t => t.x), y: el.data.map(t => t.y), names: el.data.map(t => t.name),
          xt: el.layout.xaxis.title.text, yt: el.layout.yaxis.title.text};
}"""


def test_the_explorer_round_trips_its_address_opens_points_and_downloads_its_table(
    logged_in, demo_measured
):
    page = logged_in
    page.goto("/explore/")
    page.select_option("select[name=root_kind]", "pellet")
    page.get_by_role("button", name="Plot", exact=True).click()
    page.wait_for_url("**/explore/?root_kind=pellet*")
    page.fill("input[name=conductivity_at_c]", "25")
    page.get_by_role("button", name="Plot", exact=True).click()
    page.wait_for_url("**conductivity_at_c=25*")
    page.select_option("select[name=x]", "sintering_temperature_c")
    page.select_option("select[name=y]", "conductivity_at_25c_s_cm")
    page.select_option("select[name=color]", "conductivity_at_25c_source")
    page.get_by_role("button", name="Plot", exact=True).click()
    page.wait_for_url("**y=conductivity_at_25c_s_cm*")
    page.wait_for_selector("[data-testid=plot-explore][data-plotted=true]")
    first = page.evaluate(EXPLORE_DATA)
    assert (first["xt"], first["yt"]) == (
        "sintering temperature (°C)",
        "conductivity at 25 °C (S/cm)",
    )
    # One pellet per sintering temperature was measured at 25 °C (850, 900, 950, 1000 °C).
    assert sorted(x for xs in first["x"] for x in xs) == [850, 900, 950, 1000]
    assert len(first["names"]) == 4  # coloured by source: one measurement each
    url = page.url
    page.reload()
    page.wait_for_selector("[data-testid=plot-explore][data-plotted=true]")
    assert page.url == url and page.evaluate(EXPLORE_DATA) == first
    api = page.get_attribute("[data-testid=api-url]", "href")
    assert api == "/api/lineage-table/?root_kind=pellet&conductivity_at_c=25"

    # The CSV download is the table the page shows.
    with page.expect_download() as download:
        page.click("[data-testid=csv-link]")
    csv = pd.read_csv(download.value.path())
    shown = page.eval_on_selector_all(
        "[data-testid=explore-table] tbody tr",
        "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))",
    )
    assert len(shown) == len(csv) == 12
    for (code, x, y, source), (_, row) in zip(shown, csv.iterrows(), strict=True):
        assert code == row["code"]
        assert float(x) == row["sintering_temperature_c"]
        assert (y == "") == pd.isna(row["conductivity_at_25c_s_cm"])
        if y:
            assert float(y) == pytest.approx(row["conductivity_at_25c_s_cm"], rel=1e-12)
            assert source == row["conductivity_at_25c_source"]

    # A click on a point opens that item's page.
    page.locator("#plot-explore").scroll_into_view_if_needed()
    target = page.evaluate(
        """() => {
          const el = document.getElementById('plot-explore');
          const t = el.data[0], xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
          const box = el.getBoundingClientRect();
          return {code: t.customdata[0], x: box.left + xa._offset + xa.d2p(t.x[0]),
                  y: box.top + ya._offset + ya.d2p(t.y[0])};
        }"""
    )
    page.mouse.click(target["x"], target["y"])
    page.wait_for_url(f"**/items/{target['code']}/")


def test_the_explorer_names_what_it_cannot_use(logged_in, demo_measured):
    page = logged_in
    response = page.goto("/explore/?x=colour&retention_at_cycle=0")
    assert response.status == 400
    errors = page.inner_text("[data-testid=explore-errors]")
    assert "x: 'colour' is not a column of Cell rows." in errors
    assert "retention_at_cycle: '0': must be from 1 to 1000000." in errors
    page.goto("/explore/?filters=pellet__sintering_temperature_c%3Dhot")
    page.wait_for_selector("#explore-status.error")
    assert "pellet__sintering_temperature_c" in page.inner_text("#explore-status")


def test_the_explorer_says_when_its_csv_holds_only_the_first_page(
    logged_in, demo_measured, monkeypatch
):
    # The API's CSV is one page (at most 1000 rows); with a page of 5 the 12 demo pellets
    # take three pages: the plot follows them all, and the page says what the CSV holds.
    monkeypatch.setattr("core.views_explore.API_PAGE_SIZE", 5)
    page = logged_in
    page.goto("/explore/?root_kind=pellet")
    page.wait_for_selector("[data-testid=plot-explore][data-plotted=true]")
    status = page.inner_text("#explore-status")
    assert status.startswith("12 rows;")
    assert "The CSV link holds the first 5 rows" in status
    assert "page_size=5" in page.get_attribute("[data-testid=csv-link]", "href")
