"""What a lab scientist does in the browser, end to end: every kind of record from a blank
form, with the grids' "Add a row" and "remove", the calculator filling the planned masses,
and a measurement upload. Only chemicals and reagent lots come from the demo data."""

import os

import pytest
from playwright.sync_api import expect

from cells.models import Cell
from synthesis import chemistry
from synthesis.models import LagpBatch, Pellet, ReagentLot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("LIMS_SCREENSHOTS")  # a folder to keep screenshots in, for a human look


def shot(page, name):
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def save(page, url_glob="**/items/*/"):
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(url_glob)
    return page.url.rstrip("/").rsplit("/", 1)[1]  # the new record's code


def grid(page, prefix):
    return page.locator(f'[data-formset="{prefix}"]')


def planned(page, row):
    return page.input_value(f"input[name=precursors-{row}-planned_mass_g]")


def wait_planned(page, row, value):
    # A function, not a bare expression: Playwright evaluates a bare expression with eval,
    # which the page's Content-Security-Policy refuses.
    page.wait_for_function(
        "([name, value]) => document.querySelector(`input[name=${name}]`).value === value",
        arg=[f"precursors-{row}-planned_mass_g", value],
    )


def change(page, selector, value):
    """Type a value and leave the field, as a person does (the calculator listens to it)."""
    page.fill(selector, value)
    page.press(selector, "Tab")


def masses(target, x, excess):
    return [f"{p.mass_g:.4f}" for p in chemistry.lagp_precursors(target, x, excess)]


def pick(page, select, record):
    page.select_option(select, str(record.pk))


def test_login_is_required_and_works(page, staff):
    page.goto("/synthesis/batches/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "alice")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".errorlist").count() == 1
    page.fill("#id_password", "pw-alice-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/synthesis/batches/")


def test_chemical_lot_batch_with_calculator_and_steps_then_pellets_measured(logged_in, lots):
    page = logged_in
    # A chemical the catalogue lacks, then a lot of it (the lot form comes back with it chosen).
    page.goto("/synthesis/reagents/new/")
    page.get_by_role("link", name="add a chemical").click()
    page.fill("#id_name", "Lithium carbonate, battery grade")
    page.select_option("#id_category", "lithium_source")
    page.fill("#id_formula", "Li2CO3")
    page.fill("#id_molar_mass_g_mol", "73.89")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/synthesis/reagents/new/?chemical=*")
    page.fill("#id_supplier", "Albemarle")
    page.fill("#id_lot_number", "B-7781")
    page.fill("#id_quantity", "500")
    second_li = ReagentLot.objects.get(code=save(page))
    assert "Albemarle" in page.locator("table.facts").inner_text()

    # The batch: the calculator fills the planned masses as target mass, x and excess change.
    page.goto("/synthesis/batches/new/")
    calculator = page.locator("#calculator")
    assert calculator.locator("td.mass").all_inner_texts() == ["1.459", "4.490", "3.757", "8.260"]
    assert [planned(page, i) for i in range(4)] == masses(10, 0.5, 10)
    assert grid(page, "precursors").locator(".fixed-choice").all_inner_texts() == [
        "Li source (Li2CO3)",
        "Al source (Al(NO3)3·9H2O)",
        "Ge source (GeO2)",
        "P source (NH4H2PO4)",
    ]
    change(page, "#id_target_mass_g", "20")
    wait_planned(page, 0, "2.9183")
    assert calculator.locator("tr[data-role=li] td.mass").inner_text() == "2.918"
    assert [planned(page, i) for i in range(4)] == masses(20, 0.5, 10)
    page.fill("input[name=precursors-2-planned_mass_g]", "7.6")  # GeO2 typed by hand: kept
    change(page, "#id_x_al", "3")  # impossible: its error, and no masses
    expect(calculator).to_contain_text("x (Al content): Must be at most 1.")
    expect(calculator.locator("td.mass")).to_have_count(0)
    assert planned(page, 0) == "2.9183"
    change(page, "#id_x_al", "0.4")
    wait_planned(page, 0, masses(20, 0.4, 10)[0])
    change(page, "#id_li_excess_pct", "5")
    expected = masses(20, 0.4, 5)
    wait_planned(page, 0, expected[0])
    assert [planned(page, i) for i in range(4)] == [expected[0], expected[1], "7.6", expected[3]]
    for row, formula in enumerate(["Li2CO3", "Al(NO3)3·9H2O", "GeO2", "NH4H2PO4"]):
        pick(page, f"select[name=precursors-{row}-reagent_lot]", lots[formula])
    # The rest of the lithium carbonate from the new lot: a fifth row, its precursor chosen.
    grid(page, "precursors").get_by_role("button", name="Add a row").click()
    page.select_option("select[name=precursors-4-role]", "li")
    pick(page, "select[name=precursors-4-reagent_lot]", second_li)
    page.fill("input[name=precursors-4-planned_mass_g]", "0.5")
    # Steps: the protocol's solvent removal is not done here; a final sieving step is added.
    steps = grid(page, "steps")
    assert steps.locator("tbody[data-row]").count() == 6
    steps.locator("input[name=steps-1-DELETE]").check()
    assert "removed" in steps.locator("tbody[data-row]").nth(1).get_attribute("class")
    steps.get_by_role("button", name="Add a row").click()
    steps.get_by_role("button", name="Add a row").click()
    steps.locator("input[name=steps-7-DELETE]").click()  # an added row: taken away again
    assert steps.locator("tbody[data-row]").count() == 7
    assert page.input_value("input[name=steps-TOTAL_FORMS]") == "7"
    page.select_option("select[name=steps-6-kind]", "other")
    page.fill("input[name=steps-6-notes]", "sieved < 45 µm")
    shot(page, "batch-form")
    batch = LagpBatch.objects.get(code=save(page))
    planned_g = sorted((u.role, u.planned_mass_g) for u in batch.precursors.all())
    assert planned_g == sorted(
        [("li", float(expected[0])), ("li", 0.5), ("al", float(expected[1]))]
        + [("ge", 7.6), ("p", float(expected[3]))]
    )
    assert [s.kind for s in batch.steps.all()] == [
        "ball_milling",
        "drying",
        "pretreatment",
        "calcination",
        "ball_milling",
        "other",
    ]
    assert second_li.code in page.get_by_test_id("ancestors").inner_text()
    assert "x (Al content)" in page.locator("table.facts").inner_text()

    # Two pellets pressed and sintered together, then each one measured.
    page.get_by_role("link", name="Press and sinter pellets").click()
    page.fill("#id_count", "2")
    page.fill("#id_sintering_temperature_c", "1400")
    page.get_by_role("button", name="Save", exact=True).click()
    assert "Must be at most 1300." in page.locator("label.invalid").inner_text()
    page.fill("#id_sintering_temperature_c", "900")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/synthesis/pellet-sets/*/")
    for row in range(2):
        page.fill(f"input[name=form-{row}-thickness_mm]", "0.6")
        page.fill(f"input[name=form-{row}-diameter_mm]", "13")
        page.fill(f"input[name=form-{row}-mass_mg]", "248.7")
    page.fill("input[name=form-0-thickness_mm]", "-0.6")
    page.get_by_role("button", name="Save measurements").click()
    density = page.get_by_test_id("density")
    assert density.first.inner_text() == "fix the inputs"  # not "-90.0 %"
    assert "Must be greater than zero." in page.locator("td.invalid").inner_text()
    page.fill("input[name=form-0-thickness_mm]", "0.6")
    page.get_by_role("button", name="Save measurements").click()
    page.wait_for_selector("text=Pellet measurements saved.")
    assert density.all_inner_texts() == ["90.0 %", "90.0 %"]
    assert Pellet.objects.filter(pellet_set__batch=batch, thickness_mm=0.6).count() == 2
    shot(page, "pellet-set")


def test_membrane_ile_cathode_disks_two_cells_and_a_measurement(logged_in, lots, tmp_path):
    from demo.synthetic import exports
    from demo.synthetic import spectra as syn
    from measurements.analysis import eis
    from tests import factories

    page = logged_in
    pellet, other_pellet = factories.pellets(count=2)  # pellets were made in the browser above

    page.goto("/synthesis/membranes/new/")
    pick(page, "#id_peo_lot", lots["PEO"])
    pick(page, "#id_lifsi_lot", lots["LiN(SO2F)2"])
    pick(page, "#id_pyr14fsi_lot", lots["C9H20N2O4S2F2"])
    pick(page, "#id_benzophenone_lot", lots["C13H10O"])
    page.fill("#id_peo_mass_g", "0.4405")
    page.fill("#id_lifsi_mass_g", "0.1871")
    page.fill("#id_pyr14fsi_mass_g", "1.2896")
    page.fill("#id_thickness_um", "20")
    spe = save(page)
    assert "23.0 : 9.8 : 67.3" in page.locator("table.facts").inner_text()
    assert "0.1871" in page.get_by_test_id("reagent-uses").inner_text()
    page.get_by_role("link", name="Cut pieces").click()
    assert page.input_value("#id_membrane") == spe
    page.fill("#id_count", "2")
    save(page, f"**/items/{spe}/")
    pieces = page.locator("td a[href^='/items/SPEP-']").all_inner_texts()
    assert len(pieces) == 2

    page.goto("/synthesis/ile/new/")
    pick(page, "#id_pyr14fsi_lot", lots["C9H20N2O4S2F2"])
    pick(page, "#id_litfsi_lot", lots["LiN(SO2CF3)2"])
    page.fill("#id_water_content_ppm", "2")
    ile = save(page)
    assert "0.8 Pyr14FSI - 0.2 LiTFSI" in page.locator("table.facts").inner_text()

    page.goto("/synthesis/coatings/new/")
    pick(page, "#id_active_lot", lots["LiNi0.8Co0.1Mn0.1O2"])
    pick(page, "#id_carbon_lot", lots["C"])
    pick(page, "#id_binder_lot", lots["(C2H2F2)n"])
    coating = save(page)
    page.get_by_role("link", name="Punch disks").click()
    assert page.input_value("#id_coating") == coating
    page.fill("#id_count", "2")
    save(page, f"**/items/{coating}/")
    disks = page.locator("td a[href^='/items/ELD-']").all_inner_texts()
    assert len(disks) == 2
    assert page.locator("text=3.054").count() == 2  # 2.7 mg/cm² on a 12 mm disk

    # A symmetric cell in the three rows a new cell starts with.
    li = lots["Li"].code
    page.goto("/cells/new/")
    for row, code in enumerate([li, other_pellet.code, li]):
        page.fill(f"input[name=layers-{row}-item]", code)
    save(page)
    assert page.get_by_test_id("notation").inner_text() == "Li|LAGP|Li"

    # A full cell: six layers, three rows added with the button.
    page.goto("/cells/new/")
    page.fill("#id_active_area_cm2", "1.13")
    stack = grid(page, "layers")
    for _ in range(3):
        stack.get_by_role("button", name="Add a row").click()
    layers = [
        ("negative", li, ""),
        ("electrolyte", ile, "5"),
        ("electrolyte", pieces[0], ""),
        ("electrolyte", pellet.code, ""),
        ("electrolyte", ile, "5"),
        ("positive", disks[0], ""),
    ]
    for row, (side, code, amount) in enumerate(layers):
        page.select_option(f"select[name=layers-{row}-side]", side)
        page.fill(f"input[name=layers-{row}-item]", code)
        page.fill(f"input[name=layers-{row}-amount_ul]", amount)
    shot(page, "cell-form")
    cell = save(page)
    assert page.get_by_test_id("notation").inner_text() == "Li|ILE/SPE/LAGP/ILE|NCM811"
    currents = page.get_by_test_id("currents").inner_text()
    assert "0.06107" in currents and "0.6107" in currents  # 0.1C and 1C of 3.054 mg NCM811
    assert Cell.objects.get(code=cell).layers.count() == 6
    shot(page, "cell")
    page.get_by_test_id("copy").click()
    assert page.input_value("input[name=layers-5-item]") == disks[0]

    # A spectrum uploaded for the pellet: its conductivity and the Nyquist plot.
    path = exports.write_mpt_eis(
        tmp_path / "pel_25C.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT, seed=1)
    )
    page.goto(f"/items/{pellet.code}/")
    page.get_by_role("link", name="New measurement").click()
    assert page.input_value("#id_item") == pellet.code
    page.select_option("#id_technique", "eis")
    page.fill("#id_temperature_c", "25")
    page.fill("#id_thickness_um", "600")  # this pellet was not measured on its set page
    page.fill("#id_area_cm2", str(0.06 / (329.2 * 3.25e-4)))
    page.set_input_files("#id_files", str(path))
    page.get_by_role("button", name="Save and process").click()
    page.wait_for_url("**/measurements/MEAS-*/")
    assert page.get_by_test_id("status").inner_text().startswith("Done")
    assert page.locator("td.sigma").inner_text() == "3.25e-04"
    page.locator("#plot .main-svg").first.wait_for()  # Plotly drew the Nyquist plot
    shot(page, "measurement")


def test_a_stack_without_an_electrode_is_refused_on_the_page(logged_in, lots):
    page = logged_in
    pellet_lot = lots["Li"]
    page.goto("/cells/new/")
    page.select_option("select[name=layers-0-side]", "electrolyte")
    page.fill("input[name=layers-0-item]", pellet_lot.code)
    page.get_by_role("button", name="Save", exact=True).click()
    errors = page.locator('[data-formset="layers"] .errors').inner_text()
    assert "The stack has no negative electrode." in errors
    assert "The stack has no positive electrode." in errors


def test_without_js_add_a_row_asks_the_server(browser, live_server, staff):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/cells/new/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/cells/new/")
    page.fill("input[name=layers-0-item]", "RGT-0001")
    page.get_by_role("button", name="Add a row").click()
    page.wait_for_selector("input[name=layers-3-item]")
    assert page.input_value("input[name=layers-TOTAL_FORMS]") == "4"
    assert page.input_value("input[name=layers-0-item]") == "RGT-0001"
    assert page.locator(".error").count() == 0
    context.close()


def test_a_read_only_user_gets_the_403_page_not_the_login_form(viewer_page):
    page = viewer_page
    response = page.goto("/cells/new/")
    assert response.status == 403
    assert "Your account is read-only" in page.locator("main").inner_text()
    page.get_by_role("link", name="Go to the home page").click()
    page.wait_for_url("**/")
    assert page.get_by_role("link", name="New").count() == 0
    shot(page, "viewer-home")
