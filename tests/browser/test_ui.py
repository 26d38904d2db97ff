"""What a lab scientist does in the browser, end to end."""

import os

import pytest

from synthesis import chemistry
from synthesis.models import LagpBatch, Pellet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("LIMS_SCREENSHOTS")  # a folder to keep screenshots in, for a human look


def shot(page, name):
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


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


def test_a_batch_with_the_calculator_then_a_pellet_set_with_densities(logged_in, demo):
    page = logged_in
    page.goto("/synthesis/batches/new/")
    calculator = page.get_by_test_id("calculator")
    assert calculator.locator("tr[data-role=li] .mass").inner_text() == "1.459"
    assert calculator.locator("tr[data-role=p] .mass").inner_text() == "8.260"
    page.fill("#id_target_mass_g", "20")
    page.locator("#id_target_mass_g").dispatch_event("change")
    page.wait_for_function("document.querySelector('tr[data-role=li] .mass').innerText === '2.918'")
    for index in range(4):
        page.get_by_role("button", name="use as planned").nth(index).click()
        select = page.locator(f"select[name=precursors-{index}-reagent_lot]")
        select.select_option(index=index + 1)
    li2co3_for_20_g = chemistry.lagp_precursors(20, 0.5, 10)[0].mass_g  # 2 x 1.45916 g
    assert page.input_value("input[name=precursors-0-planned_mass_g]") == f"{li2co3_for_20_g:.4f}"
    shot(page, "batch-form")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/items/LAGP-0002/")
    saved = LagpBatch.objects.get(code="LAGP-0002").precursors.get(role="li").planned_mass_g
    assert saved == pytest.approx(li2co3_for_20_g, abs=1e-4)

    page.get_by_role("link", name="Press and sinter pellets").click()
    page.fill("#id_count", "2")
    page.fill("#id_sintering_temperature_c", "1400")
    page.get_by_role("button", name="Save").click()
    assert "Must be at most 1300." in page.locator("label.invalid").inner_text()
    page.fill("#id_sintering_temperature_c", "900")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/synthesis/pellet-sets/*/")
    for row in range(2):
        page.fill(f"input[name=form-{row}-thickness_mm]", "0.6")
        page.fill(f"input[name=form-{row}-diameter_mm]", "13")
        page.fill(f"input[name=form-{row}-mass_mg]", "248.7")
    page.get_by_role("button", name="Save measurements").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("density").all_inner_texts() == ["90.0 %", "90.0 %"]
    assert Pellet.objects.filter(pellet_set__batch__code="LAGP-0002").count() == 2
    shot(page, "pellet-set")


def test_building_a_full_cell_shows_notation_currents_and_lineage(logged_in, demo):
    page = logged_in
    page.goto("/cells/new/")
    layers = [
        ("negative", demo["lots"]["Li"].code, ""),
        ("electrolyte", demo["ile"].code, "5"),
        ("electrolyte", demo["spe"].code, ""),
        ("electrolyte", demo["pellets"][900][0].code, ""),
        ("electrolyte", demo["ile"].code, "5"),
        ("positive", demo["disks"][2].code, ""),
    ]
    page.fill("#id_active_area_cm2", "1.13")
    for index, (side, code, amount) in enumerate(layers):
        if index >= 2:  # the form starts with two rows; the management form is raised by hand
            page.evaluate(f"document.querySelector('#id_layers-TOTAL_FORMS').value = {index + 1}")
            page.evaluate(
                """([i]) => { const row = document.querySelector('table.formset tbody tr');
                   const clone = row.cloneNode(true);
                   clone.querySelectorAll('input, select').forEach(el => {
                     el.name = el.name.replace('-0-', '-' + i + '-');
                     el.id = el.id.replace('-0-', '-' + i + '-'); el.value = ''; });
                   row.parentNode.appendChild(clone); }""",
                [index],
            )
        page.select_option(f"select[name=layers-{index}-side]", side)
        page.fill(f"input[name=layers-{index}-item]", code)
        page.fill(f"input[name=layers-{index}-amount_ul]", amount)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/items/CELL-*/")
    assert page.get_by_test_id("notation").inner_text() == "Li|ILE/SPE/LAGP/ILE|NCM811"
    currents = page.get_by_test_id("currents").inner_text()
    assert "0.0611" in currents and "0.6107" in currents
    assert demo["batch"].code in page.get_by_test_id("ancestors").inner_text()
    shot(page, "cell")

    page.get_by_test_id("copy").click()
    assert page.input_value("input[name=layers-5-item]") == demo["disks"][2].code


def test_a_stack_without_an_electrode_is_refused_on_the_page(logged_in, demo):
    page = logged_in
    page.goto("/cells/new/")
    page.select_option("select[name=layers-0-side]", "electrolyte")
    page.fill("input[name=layers-0-item]", demo["pellets"][900][0].code)
    page.get_by_role("button", name="Save").click()
    assert "The stack has no negative electrode." in page.locator(".errors").inner_text()


def test_uploading_a_spectrum_shows_its_conductivity_and_nyquist_plot(logged_in, demo, tmp_path):
    from measurements import exports
    from measurements.analysis import eis
    from measurements.analysis import synthetic as syn

    page = logged_in
    pellet = demo["pellets"][900][0]
    path = exports.write_mpt_eis(
        tmp_path / "pel_25C.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT, seed=1)
    )
    page.goto(f"/items/{pellet.code}/")
    page.get_by_role("link", name="New measurement").click()
    assert page.input_value("#id_item") == pellet.code
    page.select_option("#id_technique", "eis")
    page.fill("#id_temperature_c", "25")
    page.fill("#id_area_cm2", str(0.06 / (329.2 * 3.25e-4)))
    page.set_input_files("#id_files", str(path))
    page.get_by_role("button", name="Save and process").click()
    page.wait_for_url("**/measurements/MEAS-*/")
    assert page.get_by_test_id("status").inner_text().startswith("Done")
    assert page.locator("td.sigma").inner_text() == "3.25e-04"
    page.locator("#plot .main-svg").first.wait_for()  # Plotly drew the Nyquist plot
    shot(page, "measurement")
