"""Layout in the browser: every page type at a phone's 390 px and a desktop's 1300 px without
sideways scrolling, dark mode from the system, printable labels at their sizes in mm with a
QR code a scanner reads, the search box taking a scan, and the measurement form showing the
chosen technique's settings."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from core.audit import acting_as
from demo.records import _upload as upload
from demo.records import load_demo
from demo.synthetic import exports
from demo.synthetic import spectra as syn
from demo.synthetic.files import write_maccor_cycling
from measurements.analysis import eis
from measurements.models import Measurement
from synthesis.models import PelletSet
from tests import factories
from tests.qr import decode_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PX_PER_MM = 96 / 25.4  # CSS pixels


@pytest.fixture
def study(staff, tmp_path):
    """The demo records with one processed EIS and one cycling measurement (the worker runs
    in-process in these tests)."""
    with acting_as(staff):
        records = load_demo(staff)
        pellet = records["pellets"][900][0]
        spectrum = exports.write_mpt_eis(
            tmp_path / "pel.mpt", syn.eis_spectrum(eis.GRAIN_BOUNDARY, syn.LAGP_CIRCUIT)
        )
        eis_m = upload(staff, pellet, "eis", spectrum, temperature_c=25.0, thickness_um=600.0)
        cell = records["full_spe"]
        cycles = write_maccor_cycling(
            tmp_path / "cell.txt", n_cycles=30, rows_per_cycle=40, c_rate=0.2
        )
        cycling_m = upload(staff, cell, "cycling", cycles, instrument="maccor_4300")
    return {
        "pellet": pellet.code,
        "cell": cell.code,
        "batch": records["batch"].code,
        "set": PelletSet.objects.get(pellets=pellet).pk,
        "eis": eis_m.code,
        "cycling": cycling_m.code,
    }


def page_types(s: dict) -> dict[str, str]:
    labels = f"items={s['pellet']}&items={s['cell']}&items={s['batch']}"
    return {
        "home": "/",
        "list of pellets": "/synthesis/pellets/",
        "list of reagent lots (widest)": "/synthesis/reagents/",
        "list of cells": "/cells/",
        "measurement list": "/measurements/",
        "pellet page": f"/items/{s['pellet']}/",
        "cell page": f"/items/{s['cell']}/",
        "batch page": f"/items/{s['batch']}/",
        "pellet set": f"/synthesis/pellet-sets/{s['set']}/",
        "new batch (precursor and process-step grids)": "/synthesis/batches/new/",
        "batch edit": f"/items/{s['batch']}/edit/",
        "new cell (layer grid)": "/cells/new/",
        "EIS measurement": f"/measurements/{s['eis']}/",
        "cycling measurement": f"/measurements/{s['cycling']}/",
        "new measurement": "/measurements/new/",
        "search results": "/search/?q=PEL",
        "labels, roll": f"/labels/?{labels}",
        "labels, A4 sheet": f"/labels/?{labels}&layout=a4-3x8",
        "labels, refused": "/labels/?items=NOPE-1&layout=letter",
        "API token": "/account/token/",
        "compare a pellet and a cell": f"/compare/?items={s['pellet']},{s['cell']}&cycle=2",
        "compare, refused": "/compare/?items=NOPE-1&cycle=x",
        "explorer": "/explore/?root_kind=cell&x=pellet_sintering_temperature_c&y=retention_pct",
    }


def test_every_page_type_fits_a_phone_and_a_desktop(logged_in, study):
    page = logged_in
    assert Measurement.objects.get(code=study["eis"]).status == "done"
    assert Measurement.objects.get(code=study["cycling"]).status in ("done", "done_with_warnings")
    overflowing = {}
    for width in (390, 1300):
        page.set_viewport_size({"width": width, "height": 900})
        for name, url in page_types(study).items():
            page.goto(url)
            page.wait_for_load_state("networkidle")  # plots drawn
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            if scroll_width > width:
                overflowing[(width, name)] = scroll_width
    assert overflowing == {}
    # At 390 px the wide tables scroll inside their own box instead.
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto("/synthesis/reagents/")
    box = page.locator("table.list")
    assert box.evaluate("t => t.scrollWidth > t.clientWidth && getComputedStyle(t).overflowX")
    assert box.evaluate("t => t.getBoundingClientRect().right") <= 390
    page.goto(f"/measurements/{study['eis']}/")
    assert page.locator("#plot .main-svg").first.is_visible()
    assert page.locator("#plot").evaluate("e => e.getBoundingClientRect().right") <= 390


def luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+(?:\.\d+)?", css)[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: str, bg: str) -> float:
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def colours(page, selector: str) -> tuple[str, str]:
    """The text colour of the first match and the background it is drawn on (the nearest
    ancestor with a background)."""
    return page.locator(selector).first.evaluate(
        """e => {
            let b = e;
            while (b && ['rgba(0, 0, 0, 0)', 'transparent'].includes(getComputedStyle(b).backgroundColor)) b = b.parentElement;
            return [getComputedStyle(e).color, b ? getComputedStyle(b).backgroundColor : 'rgb(255, 255, 255)'];
        }"""
    )


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_colours_follow_the_system_and_keep_text_readable(logged_in, scheme):
    page = logged_in
    factories.pellets(count=2)
    page.emulate_media(color_scheme=scheme)
    page.goto("/")
    body_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    body_fg = page.evaluate("getComputedStyle(document.body).color")
    if scheme == "dark":
        assert luminance(body_bg) < 0.02 and luminance(body_fg) > 0.7
    else:
        assert luminance(body_bg) > 0.9 and luminance(body_fg) < 0.02
    checks = {"body text": colours(page, "main h1"), "link": colours(page, "main a.code")}
    page.goto("/synthesis/pellets/")
    checks["table cell"] = colours(page, "table.list td")
    checks["table heading"] = colours(page, "table.list th")
    checks["muted label"] = colours(page, ".filters label")
    checks["button"] = colours(page, "button[type=submit]")
    checks["input"] = colours(page, ".filters input")
    page.goto("/labels/?items=NOPE-1")
    checks["error message"] = colours(page, "span.error")
    low = {name: round(contrast(*pair), 1) for name, pair in checks.items()}
    assert all(ratio >= 4.5 for ratio in low.values()), low
    assert contrast(*checks["body text"]) >= 7
    if scheme == "dark":
        assert luminance(checks["input"][1]) < 0.1  # native inputs are dark too
        assert luminance(checks["table cell"][1]) < 0.05
    # The labels stay black on white in either scheme: they preview paper.
    page.goto("/labels/?items=PEL-0001")
    assert colours(page, ".label .code") == ["rgb(0, 0, 0)", "rgb(255, 255, 255)"]


# --- labels -----------------------------------------------------------------------------------


def test_labels_from_a_list_selection_at_their_sizes_with_a_readable_qr_code(logged_in, tmp_path):
    page = logged_in
    pellets = factories.pellets(count=3)
    page.goto("/synthesis/pellets/")
    page.check(f"input[name=items][value={pellets[2].code}]")
    page.check(f"input[name=items][value={pellets[0].code}]")
    page.get_by_test_id("print-labels").click()
    page.wait_for_url("**/labels/?items=*")
    # In the list's order (newest first).
    assert f"items={pellets[2].code}&items={pellets[0].code}" in page.url
    labels = page.locator(".label[data-code]")
    assert labels.evaluate_all("ls => ls.map(l => l.dataset.code)") == [
        pellets[2].code,
        pellets[0].code,
    ]
    # Brother QL 62 × 29 mm, each label one page of that size.
    box = labels.first.bounding_box()
    assert box["width"] == pytest.approx(62 * PX_PER_MM, abs=0.5)
    assert box["height"] == pytest.approx(29 * PX_PER_MM, abs=0.5)
    qr = page.locator(".label .qr").first.bounding_box()
    assert qr["width"] == pytest.approx(25 * PX_PER_MM, abs=0.5)
    # What chromium drew, read back by zxing-cpp: the pellet's page on this server.
    image = Image.open(io.BytesIO(page.locator(".label .qr").first.screenshot()))
    assert decode_image(image) == [f"{page.url.split('/labels/')[0]}/items/{pellets[2].code}/"]
    pdf = page.pdf(prefer_css_page_size=True)
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert len(boxes) == 2  # one label, one page; no blank page after the last
    for width_pt, height_pt in boxes:  # chromium rounds a page to whole CSS pixels
        assert float(width_pt) * 25.4 / 72 == pytest.approx(62, abs=0.3)
        assert float(height_pt) * 25.4 / 72 == pytest.approx(29, abs=0.3)

    # Avery L7160 on A4 with the first 20 labels used: the 21st and a second sheet.
    page.select_option("#id_layout", "a4-3x7")
    page.fill("#id_skip", "20")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**layout=a4-3x7**")
    sheets = page.locator(".sheet")
    assert sheets.count() == 2
    sheet = sheets.first.bounding_box()
    assert sheet["width"] == pytest.approx(210 * PX_PER_MM, abs=0.5)
    assert sheet["height"] == pytest.approx(297 * PX_PER_MM, abs=0.5)
    first = page.locator(".sheet").first.locator(".label").first.bounding_box()
    assert (first["x"] - sheet["x"]) / PX_PER_MM == pytest.approx(7.21, abs=0.05)
    assert (first["y"] - sheet["y"]) / PX_PER_MM == pytest.approx(15.15, abs=0.05)
    last = page.locator(".sheet").first.locator(".label[data-code]").bounding_box()
    # Label 21 is the third column of the seventh row: 2 × 66.04 mm across, 6 × 38.1 mm down.
    assert (last["x"] - first["x"]) / PX_PER_MM == pytest.approx(2 * 66.04, abs=0.05)
    assert (last["y"] - first["y"]) / PX_PER_MM == pytest.approx(6 * 38.1, abs=0.05)
    assert last["width"] / PX_PER_MM == pytest.approx(63.5, abs=0.05)
    pdf = page.pdf(prefer_css_page_size=True)
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert len(boxes) == 2
    assert float(boxes[0][0]) * 25.4 / 72 == pytest.approx(210, abs=0.3)
    assert float(boxes[0][1]) * 25.4 / 72 == pytest.approx(297, abs=0.3)


def test_the_label_link_on_an_item_page_and_a_scan_into_the_search_box(logged_in):
    page = logged_in
    pellet = factories.pellets(count=1)[0]
    page.goto(f"/items/{pellet.code}/")
    page.get_by_test_id("label").click()
    page.wait_for_url(f"**/labels/?items={pellet.code}")
    assert page.locator(".label[data-code]").count() == 1
    # A scanner types the QR code's URL and Enter, here in lower case with a trailing space.
    url = page.url.split("/labels/")[0] + f"/items/{pellet.code.lower()}/ "
    page.goto("/")
    page.fill("header .search input", url)
    page.press("header .search input", "Enter")
    page.wait_for_url(f"**/items/{pellet.code}/")
    assert page.locator("h1").inner_text().startswith(pellet.code)


# --- measurement settings by technique -------------------------------------------------------


def shown(page) -> set[str]:
    return set(
        page.locator(
            "main form input[name], main form select[name], main form textarea[name]"
        ).evaluate_all(
            "els => els.filter(e => e.offsetParent !== null && e.type !== 'hidden')"
            ".map(e => e.name)"
        )
    )


EVERYONE = {"item", "technique", "instrument", "temperature_c", "parser", "files", "notes"}


def test_the_new_measurement_form_shows_the_chosen_techniques_settings(logged_in, browser):
    page = logged_in
    pellet = factories.pellets(count=1)[0]
    page.goto(f"/measurements/new/?item={pellet.code}")
    page.select_option("#id_technique", "eis")
    assert shown(page) == EVERYONE | {
        "thickness_um",
        "area_cm2",
        "eis_model",
        "conductivity_resistances",
    }
    page.fill("#id_thickness_um", "612")
    page.select_option("#id_technique", "cycling")
    assert shown(page) == EVERYONE | {"active_mass_mg", "reference_cycle"}
    page.select_option("#id_technique", "stripping")
    assert shown(page) == EVERYONE | {"area_cm2"}
    page.select_option("#id_technique", "tga")
    assert shown(page) == EVERYONE
    page.select_option("#id_technique", "cycling")
    page.fill("#id_active_mass_mg", "3.05")
    page.get_by_role("button", name="Save and process").click()
    page.wait_for_url("**/measurements/MEAS-*/")
    m = Measurement.objects.get()
    # The thickness typed while it was EIS was hidden, not wiped.
    assert (m.technique, m.active_mass_mg, m.thickness_um) == ("cycling", 3.05, 612.0)
    # Its settings form has the cycling fields only.
    settings = page.locator("form[action$='/settings/']")
    assert settings.locator("[name=active_mass_mg]").input_value() == "3.05"
    assert settings.locator("[name=thickness_um]").count() == 0

    # Without JavaScript every field shows.
    context = browser.new_context(
        base_url=page.url.split("/measurements/")[0], java_script_enabled=False
    )
    context.add_cookies(page.context.cookies())
    plain = context.new_page()
    plain.goto("/measurements/new/")
    assert shown(plain) == EVERYONE | {
        "thickness_um",
        "area_cm2",
        "eis_model",
        "conductivity_resistances",
        "active_mass_mg",
        "reference_cycle",
    }
    context.close()


def test_form_buttons_keep_their_size_and_the_tab_shows_the_icon(page, staff):
    """The projects page's "Make project" and a project's "Add or change" sat stretched over a
    whole grid cell (as tall as the description box); and every page asked for a favicon that
    answered 404 (a console error in each tab). The icon is an SVG the policy allows."""
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="add_project"))
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    for width in (1300, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for url, name in (("/projects/", "Make project"), ("/projects/LAB/", "Add or change")):
            page.goto(url)
            box = page.get_by_role("button", name=name).bounding_box()
            assert box["height"] < 50 and box["width"] < 200, (url, width, box)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
    icon = page.locator("link[rel=icon]").get_attribute("href")
    loaded = page.evaluate(
        """href => new Promise(done => { const i = new Image();
            i.onload = () => done(i.naturalWidth); i.onerror = () => done(0); i.src = href; })""",
        icon,
    )
    assert loaded > 0
    assert errors == []
