"""Printable labels (code, kind, summary, a QR code of the item's page) and the search box
reading what a barcode scanner types."""

import re

import pytest

from core import labels
from tests import factories
from tests.qr import decode_svg

SVG = re.compile(r"<svg[^>]*class=\"segno\".*?</svg>", re.S)


@pytest.fixture
def pellets(db):
    return factories.pellets(count=3)


def label_page(client, query: str):
    response = client.get(f"/labels/?{query}")
    return response, response.content.decode()


def test_each_label_has_code_kind_summary_and_a_qr_code_of_the_items_url(viewer_client, pellets):
    first, second, _ = pellets
    response, body = label_page(viewer_client, f"items={first.code}&items={second.code.lower()}")
    assert response.status_code == 200
    blocks = re.findall(r'<div class="label" data-code="([^"]+)">(.*?)</div></div></div>', body)
    assert [code for code, _ in blocks] == [first.code, second.code]  # in the order asked
    for (code, html), pellet in zip(blocks, (first, second), strict=True):
        assert f'<div class="code">{code}</div>' in html
        assert '<div class="kind">LAGP pellet</div>' in html
        assert pellet.summary and f'<div class="summary">{pellet.summary}' in html
        # The SVG as served, drawn into pixels by the test and read by zxing-cpp.
        assert decode_svg(SVG.search(html).group(0)) == [f"http://testserver/items/{code}/"]


def test_the_qr_code_takes_the_host_and_scheme_of_the_request(viewer_client, pellets, settings):
    settings.ALLOWED_HOSTS = ["lims.lab.example"]
    response = viewer_client.get(
        f"/labels/?items={pellets[0].code}", HTTP_HOST="lims.lab.example", secure=True
    )
    svg = SVG.search(response.content.decode()).group(0)
    assert decode_svg(svg) == [f"https://lims.lab.example/items/{pellets[0].code}/"]


def test_a_brother_roll_label_is_one_62_by_29_mm_page(viewer_client, pellets):
    _, body = label_page(viewer_client, f"items={pellets[0].code}&layout=brother-62x29")
    assert "@page { size: 62.0mm 29.0mm; margin: 0; }" in body
    assert ".label { width: 62.0mm; height: 29.0mm; padding: 2.0mm;" in body
    # 29 mm less 2 mm white top and bottom; the text gets 62 - 25 - 3 × 2 = 31 mm.
    assert ".label .qr, .label .qr svg { width: 25.0mm; height: 25.0mm; }" in body
    assert ".label .text { width: 31.0mm;" in body


def test_a4_sheets_place_the_makers_grid(viewer_client, pellets):
    _, body = label_page(viewer_client, f"items={pellets[0].code}&layout=a4-3x8")
    assert "@page { size: 210.0mm 297.0mm; margin: 0; }" in body
    # Avery 3474: 3 × 70 mm fill the 210 mm width; 8 × 37 = 296 mm leave 0.5 mm top and bottom.
    assert "padding: 0.5mm 0 0 0.0mm;" in body
    assert (
        "grid-template-columns: repeat(3, 70.0mm); grid-auto-rows: 37.0mm; column-gap: 0.0mm;"
        in body
    )
    _, body = label_page(viewer_client, f"items={pellets[0].code}&layout=a4-3x7")
    # Avery L7160: 7 × 38.1 = 266.7 mm, (297 - 266.7) / 2 = 15.15 mm top; 3 × 63.5 + 2 × 2.54
    # = 195.58 mm wide, (210 - 195.58) / 2 = 7.21 mm left.
    assert "padding: 15.15mm 0 0 7.21mm;" in body
    assert "repeat(3, 63.5mm); grid-auto-rows: 38.1mm; column-gap: 2.54mm;" in body


def test_labels_already_used_on_a_sheet_are_skipped_and_a_full_sheet_starts_another(
    viewer_client, pellets
):
    codes = "&".join(f"items={p.code}" for p in pellets)
    _, body = label_page(viewer_client, f"{codes}&layout=a4-3x8&skip=22")
    sheets = body.split('<div class="sheet">')[1:]
    assert len(sheets) == 2
    assert sheets[0].count('class="label empty"') == 22
    assert sheets[0].count('data-code="') == 2 and sheets[1].count('data-code="') == 1
    assert "3 labels on 2 sheets" in body
    # A roll has no used labels to skip: each label is its own page.
    _, body = label_page(viewer_client, f"{codes}&skip=22")
    assert body.count('<div class="sheet">') == 3 and 'class="label empty"' not in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("items=PEL-0001&items=NOPE-7,XYZ", "Item codes: no item NOPE-7, XYZ"),
        ("items=PEL-0001&layout=letter", "Label stock: “letter” is not one of the stocks listed"),
        ("items=PEL-0001&layout=a4-3x7&skip=21", "a sheet of this stock has 21 labels: 0 to 20"),
        ("items=PEL-0001&layout=a4-3x8&skip=-1", "Leave empty at the start (labels): 0 or more"),
        ("items=PEL-0001&skip=two", "a whole number of labels"),
        (
            "items=" + "+".join(f"PEL-{n:04d}" for n in range(1, 242)),
            "Item codes: 241 codes: at most 240 labels in one go",
        ),
    ],
)
def test_what_cannot_be_printed_is_named_beside_its_field(viewer_client, pellets, query, message):
    response, body = label_page(viewer_client, query)
    assert response.status_code == 400
    assert message in body.replace("&#x27;", "'")


def test_an_unknown_code_still_prints_the_known_ones(viewer_client, pellets):
    _, body = label_page(viewer_client, f"items={pellets[0].code}+NOPE-7")
    assert body.count('data-code="') == 1 and "no item NOPE-7" in body


def test_every_item_page_links_to_its_label(viewer_client, pellets):
    body = viewer_client.get(f"/items/{pellets[0].code}/").content.decode()
    assert f'data-testid="label" href="/labels/?items={pellets[0].code}"' in body


@pytest.mark.parametrize("url", ["/synthesis/pellets/", "/", "/search/?q=PEL"])
def test_lists_select_items_for_labels_with_a_plain_get_form(viewer_client, pellets, url):
    body = viewer_client.get(url).content.decode()
    form = re.search(
        r'<form method="get" action="[^"]+" class="selection"[^>]*>.*?</form>', body, re.S
    )
    boxes = re.findall(r'<input type="checkbox" name="items" value="([^"]+)"', form.group(0))
    assert {p.code for p in pellets} <= set(boxes)
    assert 'formaction="/labels/"' in form.group(0) and "Print labels" in form.group(0)


# --- the search box and a scanner -------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "PEL-0002",  # the code, as a person types it
        "  PEL-0002\t\n",  # a scanner's surrounding whitespace
        "pel-0002",  # lower case (a scanner in the wrong case mode)
        "https://lims.lab.example/items/PEL-0002/",  # the label's QR code
        "http://testserver/items/pel-0002",  # without the last slash, another host
        " https://lims.lab.example/items/PEL-0002/?from=label#top ",
        "/items/PEL-0002/",  # a path
    ],
)
def test_a_scanned_code_goes_straight_to_the_item(viewer_client, pellets, typed):
    response = viewer_client.get("/search/", {"q": typed})
    assert response.status_code == 302 and response.url == "/items/PEL-0002/"


def test_part_of_a_code_lists_the_codes_that_contain_it(viewer_client, db):
    pellets = factories.pellets(count=12)
    assert pellets[0].code == "PEL-0001"
    response = viewer_client.get("/search/", {"q": "pel-001"})  # PEL-0010, -0011, -0012
    assert response.status_code == 200
    assert re.findall(r'value="(PEL-\d+)"', response.content.decode()) == [
        "PEL-0010",
        "PEL-0011",
        "PEL-0012",
    ]
    assert viewer_client.get("/search/", {"q": "PEL-0001"}).url == "/items/PEL-0001/"


def test_a_scanned_url_of_no_item_says_so(viewer_client, pellets):
    response = viewer_client.get("/search/", {"q": "https://lims.lab.example/items/PEL-0099/"})
    assert response.status_code == 200
    assert "No item code contains “PEL-0099”." in response.content.decode()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("CELL-0005", "CELL-0005"),
        ("\tcell-0005 ", "cell-0005"),
        ("HTTPS://HOST:8443/items/CELL-0005/", "CELL-0005"),
        ("https://host/items/CELL%2D0005/", "CELL-0005"),
        ("https://host/other/CELL-0005/", "https://host/other/CELL-0005/"),  # not an item URL
    ],
)
def test_scanned_code(text, code):
    assert labels.scanned_code(text) == code


def test_codes_from_boxes_and_ticks_in_order_each_once():
    assert labels.parse_codes(["pel-0002, PEL-0001", "PEL-0002", " CELL-0005;x"]) == [
        "PEL-0002",
        "PEL-0001",
        "CELL-0005",
        "X",
    ]


def test_a_pellet_set_links_to_the_labels_of_all_its_pellets(viewer_client, pellets):
    body = viewer_client.get(f"/synthesis/pellet-sets/{pellets[0].pellet_set_id}/").content.decode()
    link = re.search(r'data-testid="set-labels" href="([^"]+)"', body).group(1)
    assert link == "/labels/?items=PEL-0001+PEL-0002+PEL-0003"
    assert viewer_client.get(link).content.decode().count('data-code="') == 3
