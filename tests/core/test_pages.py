"""What a lab user reads: styled error pages, read-only accounts that see no form they cannot
use, titles and plurals, history in the forms' words, numbers to sensible digits."""

import re

import pytest
from django.template.loader import render_to_string

from core.display import number, with_uncertainty
from core.models import Item, ItemKind
from core.templatetags.lims_tags import pm, show
from measurements.services import measurement_create
from synthesis.models import PelletSet

# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (0.5608000747733434, "0.5608"),  # a computed area: 4 significant digits
        (4.4902, "4.490"),  # the significant zero stays
        (1.45916, "1.459"),
        (0.6, "0.6"),  # as typed
        (900.0, "900"),
        (248.7, "248.7"),
        (0.0610724, "0.06107"),
        (12345.678, "12346"),
        (99.996, "100.0"),
        (3.2497e-4, "3.250e-04"),
        (1e-7, "1e-07"),
        (0.0, "0"),
        (-0.5, "-0.5"),
        (7, "7"),
    ],
)
def test_numbers_are_shown_to_sensible_significant_digits(value, text):
    assert number(value) == text


@pytest.mark.parametrize(
    "value, uncertainty, text",
    [
        (0.36123, 0.000123, "0.36123 ± 0.00012"),  # first digit 1: two digits kept
        (0.3612, 0.0042, "0.361 ± 0.004"),
        (0.5, 0.096, "0.5 ± 0.1"),
        (1234.5, 56.0, "1230 ± 60"),
        (3.25e-4, 1.2e-5, "(3.25 ± 0.12)e-04"),
        (0.3612, None, "0.3612"),
        (0.3612, 0.0, "0.3612"),
    ],
)
def test_a_value_is_rounded_to_its_uncertainty(value, uncertainty, text):
    assert with_uncertainty(value, uncertainty) == text
    assert pm(value, uncertainty) == text


def test_show_adds_the_unit_and_a_dash_for_nothing():
    assert show(0.5608000747733434, "cm²") == "0.5608 cm²"
    assert show(None, "cm²") == "—"
    assert show(float("nan")) == "—"
    assert show(True) == "yes"


# -- pages -----------------------------------------------------------------------------------


def create_and_edit_urls(demo) -> list[str]:
    urls = [
        "/synthesis/reagents/new/",
        "/synthesis/chemicals/new/",
        "/synthesis/batches/new/",
        "/synthesis/pellet-sets/new/",
        f"/synthesis/pellet-sets/{PelletSet.objects.first().pk}/edit/",
        "/synthesis/membranes/new/",
        "/synthesis/ile/new/",
        "/synthesis/coatings/new/",
        "/synthesis/disks/new/",
        "/cells/new/",
        "/measurements/new/",
    ]
    for kind in ItemKind.values:
        urls.append(f"/items/{Item.objects.filter(kind=kind).first().code}/edit/")
    return urls


def test_a_read_only_user_gets_the_styled_403_on_every_create_and_edit_url(viewer_client, demo):
    for url in create_and_edit_urls(demo):
        for method in ("get", "post"):
            response = getattr(viewer_client, method)(url)
            assert response.status_code == 403, (method, url, response.status_code)
            body = response.content.decode()
            # A viewer of the record's project (LAB), who records in no project.
            assert re.search(
                r"Your account is read-only: you record in no project\.|You are read-only in "
                r"project LAB \(a viewer\)",
                body,
            ), (method, url)
            assert '<a class="button" href="/">Go to the home page</a>' in body


def test_a_read_only_user_cannot_post_to_measurement_or_pellet_actions(viewer_client, demo):
    pellet_set = PelletSet.objects.first()
    measurement = measurement_create(item=pellet_set.pellets.first(), fields={"technique": "eis"})
    for url in [
        f"/synthesis/pellet-sets/{pellet_set.pk}/",
        f"/measurements/{measurement.code}/rerun/",
        f"/measurements/{measurement.code}/settings/",
        f"/measurements/{measurement.code}/files/",
        f"/measurements/{measurement.code}/mapping/",
        f"/measurements/{measurement.code}/files/1/remove/",
    ]:
        assert viewer_client.post(url).status_code == 403, url


def post_forms(body: str) -> list[str]:
    """The POST forms of a page, without the logout form every page has."""
    forms = re.findall(r'<form method="post"[^>]*>', body)
    return [f for f in forms if "logout" not in f]


def test_a_read_only_user_sees_no_form_or_button_it_cannot_use(viewer_client, demo):
    pellet_set = PelletSet.objects.first()
    measurement = measurement_create(item=pellet_set.pellets.first(), fields={"technique": "eis"})
    pages = [
        "/",
        "/synthesis/reagents/",
        "/synthesis/batches/",
        "/cells/",
        "/measurements/",
        f"/synthesis/pellet-sets/{pellet_set.pk}/",
        f"/measurements/{measurement.code}/",
        *(f"/items/{Item.objects.filter(kind=k).first().code}/" for k in ItemKind.values),
    ]
    for url in pages:
        body = viewer_client.get(url).content.decode()
        assert post_forms(body) == [], url
        for text in (
            "/new/",
            "/edit/",
            "?copy=",
            "Press and sinter",
            "Punch disks",
            "Re-run",
            ">Save",
            ">Upload",
            "add a chemical",
            'name="form-0-',
        ):
            assert text not in body, (url, text)


def test_staff_see_the_forms_the_viewer_does_not(staff_client, demo):
    pellet_set = PelletSet.objects.first()
    body = staff_client.get(f"/synthesis/pellet-sets/{pellet_set.pk}/").content.decode()
    assert 'name="form-0-thickness_mm"' in body
    batch = Item.objects.get(kind="lagp_batch")
    body = staff_client.get(batch.get_absolute_url()).content.decode()
    assert f"/items/{batch.code}/edit/" in body and f"?copy={batch.code}" in body


def test_an_unknown_code_is_the_styled_404(staff_client, db):
    response = staff_client.get("/items/PEL-9999/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "There is nothing here" in body and "<code>/items/PEL-9999/</code>" in body
    assert '<a class="button" href="/">Go to the home page</a>' in body


def test_the_500_and_400_pages_render_without_any_context():
    page = render_to_string("500.html")
    assert "Something went wrong on the server" in page and 'href="/"' in page
    assert "The request was incomplete or malformed." in render_to_string("400.html")


@pytest.mark.parametrize(
    "url, title",
    [
        ("/synthesis/reagents/", "Reagent lots"),
        ("/synthesis/batches/", "LAGP powder batches"),
        ("/synthesis/pellets/", "LAGP pellets"),
        ("/synthesis/membranes/", "SPE membranes"),
        ("/synthesis/ile/", "ILE batches"),
        ("/synthesis/coatings/", "Cathode coatings"),
        ("/synthesis/disks/", "Electrode disks"),
        ("/cells/", "Cells"),
    ],
)
def test_list_titles_keep_the_case_of_lagp_spe_and_ile(staff_client, url, title):
    body = staff_client.get(url).content.decode()
    assert f"<h1>{title}</h1>" in body
    assert f"<title>{title} · Solid-state battery LIMS</title>" in body
    assert f'<a href="{url}">{title}</a>' in body  # the nav


def test_home_tiles_use_the_singular_or_the_plural(staff_client, demo):
    body = staff_client.get("/").content.decode()
    assert "<strong>1</strong><span>LAGP powder batch</span>" in body
    assert "<strong>1</strong><span>ILE batch</span>" in body
    assert "<strong>12</strong><span>LAGP pellets</span>" in body
    assert "<strong>4</strong><span>SPE membrane pieces</span>" in body
    assert "batchs" not in body and "Lagp" not in body


def test_history_uses_the_forms_words(staff_client, demo):
    batch = Item.objects.get(kind="lagp_batch").specific
    data = {
        "target_mass_g": "10",
        "x_al": "0.6",
        "li_excess_pct": "10",
        "yield_g": "8.9",
        "phase_result": batch.phase_result,
        "notes": batch.notes,
        "precursors-TOTAL_FORMS": "4",
        "precursors-INITIAL_FORMS": "4",
        "steps-TOTAL_FORMS": "0",
        "steps-INITIAL_FORMS": "0",
    }
    for i, use in enumerate(
        sorted(batch.precursors.all(), key=lambda u: "li al ge p".index(u.role))
    ):
        data |= {
            f"precursors-{i}-role": use.role,
            f"precursors-{i}-reagent_lot": use.reagent_lot_id,
            f"precursors-{i}-planned_mass_g": use.planned_mass_g,
            f"precursors-{i}-weighed_mass_g": use.weighed_mass_g,
        }
    response = staff_client.post(f"/items/{batch.code}/edit/", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    history = staff_client.get(batch.get_absolute_url()).content.decode().split("<h2>History")[1]
    assert "x (Al content): 0.5 → 0.6" in history
    assert "Created precursor use" in history and "Changed LAGP powder batch" in history
    assert "role Li source (Li2CO3)" in history  # the choice's label
    assert "planned (g) 1.459" in history  # a number to 4 significant digits
    for raw in ("synthesis.", "x_al", "reagent_lot_id", "batch_id", "<code>"):
        assert raw not in history


def test_recorded_values_show_every_digit_typed_and_no_bookkeeping(staff_client, demo):
    page = staff_client.get(f"/items/{demo['spe'].code}/").content.decode()
    facts = page.split('<table class="facts">')[1].split("</table>")[0]
    assert "<td>1.2896</td>" in facts  # Pyr14FSI weighed to 0.1 mg, not "1.290"
    assert ">version<" not in facts and ">summary<" not in facts


def test_a_membrane_piece_names_its_membrane_once(staff_client, db):
    from tests import factories

    piece = factories.membrane_pieces(count=1)[0]
    page = staff_client.get(f"/items/{piece.code}/").content.decode()
    facts = page.split('<table class="facts">')[1].split("</table>")[0]
    assert facts.count("<th>membrane</th>") == 1 and "<th>thickness used (µm)</th>" in facts


def test_the_favicon_is_linked_and_favicon_ico_finds_it(client, db):
    """Browsers ask for /favicon.ico: a redirect to the SVG icon, not a 404 in the log, and
    without a login (the login page asks too)."""
    login = client.get("/accounts/login/").content.decode()
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', login)
    assert icon and icon.group(1) == "/static/lims/favicon.svg"
    assert icon.group(0) in render_to_string("404.html")  # the error pages too
    answer = client.get("/favicon.ico")
    assert answer.status_code == 302 and answer["Location"] == icon.group(1)
    svg = client.get(icon.group(1))
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(svg.streaming_content if svg.streaming else [svg.content])
