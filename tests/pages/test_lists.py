"""Every list sorts by any column (in the database), exports what it shows as CSV, and the
kinds measured carry their results as columns."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, get_resolver

from core.spreadsheet import safe_cell
from core.views import TableView
from tests import factories

pytestmark = pytest.mark.django_db


def _codes(html: str) -> list[str]:
    body = html.split('data-testid="list"', 1)[1].split("</tbody>", 1)[0]
    # Item lists start each row with the selection checkbox (compare, labels).
    return re.findall(
        r"<tr>(?:<td class=\"select\">.*?</td>)?<td>(?:<a [^>]*>)?([A-Z]+-\d{4})<", body
    )


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text, newline="")))


def _list_views() -> list[tuple[str, type[TableView]]]:
    """Every list page of the site (each kind's list and the measurement list)."""
    found = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLPattern):
                view = getattr(p.callback, "view_class", None)
                if view is not None and issubclass(view, TableView):
                    found.append((prefix + str(p.pattern), view))
            else:
                walk(p.url_patterns, prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    return found


def test_every_list_is_a_sortable_table():
    urls = [url for url, _ in _list_views()]
    assert sorted(urls) == sorted(
        [
            "synthesis/reagents/",
            "synthesis/batches/",
            "synthesis/pellets/",
            "synthesis/membranes/",
            "synthesis/ile/",
            "synthesis/coatings/",
            "synthesis/membrane-pieces/",
            "synthesis/disks/",
            "cells/",
            "measurements/",
        ]
    )


def test_every_column_of_every_list_sorts_both_ways(staff_client, measured_demo):
    for url, view in _list_views():
        for column in view().get_columns():
            for sort in (column.key, f"-{column.key}"):
                response = staff_client.get(f"/{url}?sort={sort}")
                assert response.status_code == 200, (url, sort)
                assert 'aria-sort="' in response.content.decode(), (url, sort)


def test_pellets_sort_by_conductivity_in_the_database(staff_client, measured_demo):
    # σ at 25 °C: PEL-0003 3.24e-4 (900 °C), PEL-0009 2.66e-4, PEL-0011 1.99e-4, PEL-0001 1.76e-4.
    html = staff_client.get("/synthesis/pellets/?sort=-conductivity_s_cm").content.decode()
    assert _codes(html)[:5] == ["PEL-0003", "PEL-0009", "PEL-0011", "PEL-0001", "PEL-0012"]
    html = staff_client.get("/synthesis/pellets/?sort=conductivity_s_cm").content.decode()
    assert _codes(html)[:4] == ["PEL-0001", "PEL-0011", "PEL-0009", "PEL-0003"]  # unmeasured last
    assert "3.24e-04" in html and "0.3608" in html  # σ and Ea of PEL-0003
    # The heading links to the other direction.
    assert 'href="?sort=-conductivity_s_cm&amp;page=1"' in html


def test_cells_carry_and_sort_by_their_cycling_and_stripping_results(staff_client, measured_demo):
    html = staff_client.get("/cells/?sort=-retention_pct").content.decode()
    assert _codes(html)[:2] == ["CELL-0005", "CELL-0006"]  # 82.70 % before 35.00 %
    for heading in (
        "first discharge (mAh/g)",
        "retention (%)",
        "mean CE (%)",
        "short circuit at (h)",
    ):
        assert heading in html
    # `format` is a cell's own filter (coin, pouch): the export is `?export=csv`.
    rows = _csv(staff_client.get("/cells/?export=csv&sort=short_circuit_time_h"))
    assert rows[0][-4:] == [
        "first discharge (mAh/g)",
        "retention (%)",
        "mean CE (%)",
        "short circuit at (h)",
    ]
    assert rows[1][0] == "CELL-0003" and rows[1][-1] == "195.0"
    by_code = {row[0]: row for row in rows[1:]}
    assert float(by_code["CELL-0005"][-3]) == pytest.approx(82.700042, abs=1e-5)
    assert float(by_code["CELL-0005"][-2]) == pytest.approx(99.844708, abs=1e-5)


def test_sorting_by_a_result_costs_the_same_queries_for_1_and_60_pellets(staff_client):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = staff_client.get("/synthesis/pellets/?sort=-conductivity_s_cm")
        assert response.status_code == 200
        return len(captured)

    factories.pellets(count=1)
    one = queries()
    factories.pellets(count=59)
    assert queries() == one


def test_csv_keeps_filters_and_sort_and_has_every_row_not_the_page(staff_client, measured_demo):
    url = "/synthesis/pellets/?sintering_temperature_c=900&sort=-relative_density&page=2"
    rows = _csv(staff_client.get(url + "&format=csv"))
    assert rows[0][:2] == ["code", "batch"] and "relative density (%)" in rows[0]
    density = rows[0].index("relative density (%)")
    values = [float(r[density]) for r in rows[1:]]
    assert len(rows) == 1 + 6 and values == sorted(values, reverse=True)  # six 900 °C pellets
    assert values[0] == pytest.approx(91.94, abs=0.005)
    # The list's "Export CSV" link keeps them (and drops the page).
    html = staff_client.get(url.replace("&page=2", "")).content.decode()
    link = re.search(r'data-testid="export-csv" href="([^"]+)"', html).group(1)
    assert link.replace("&amp;", "&") == (
        "?sintering_temperature_c=900&sort=-relative_density&export=csv"
    )


def test_csv_has_every_row_beyond_the_first_page(staff_client, monkeypatch):
    monkeypatch.setattr(TableView, "paginate_by", 2)
    factories.pellets(count=5)
    html = staff_client.get("/synthesis/pellets/?sort=code").content.decode()
    assert len(_codes(html)) == 2 and "page 1 of 3" in html
    rows = _csv(staff_client.get("/synthesis/pellets/?sort=code&format=csv"))
    assert [r[0] for r in rows[1:]] == sorted(r[0] for r in rows[1:]) and len(rows) == 6


@pytest.mark.parametrize(
    "typed", ['=HYPERLINK("http://x")', "+41 22", "-2+3", "@SUM(A1)", "\tx", "\rx"]
)
def test_text_that_a_spreadsheet_would_run_is_neutralised(staff_client, api, typed):
    factories.reagent_lot("Evil salt", "X", supplier=typed)
    rows = _csv(staff_client.get("/synthesis/reagents/?format=csv"))
    supplier = rows[0].index("supplier")
    assert rows[1][supplier] == "'" + typed
    # The API's CSV uses the same function.
    text = api.get("/api/reagent-lots/?format=csv").content.decode()
    api_rows = list(csv.reader(io.StringIO(text, newline="")))
    assert api_rows[1][api_rows[0].index("supplier")] == "'" + typed


def test_numbers_and_plain_text_are_left_alone():
    assert safe_cell(-0.5) == -0.5 and safe_cell(12) == 12
    assert safe_cell("Sigma-Aldrich") == "Sigma-Aldrich" and safe_cell("") == ""
    assert safe_cell("-x") == "'-x"


def test_an_unknown_sort_or_format_is_named_not_a_500(staff_client, measured_demo):
    response = staff_client.get("/synthesis/pellets/?sort=-colour")
    assert response.status_code == 400
    assert "Sort: there is no column “colour” in this list" in response.content.decode()
    assert len(_codes(response.content.decode())) == 12  # still the list, newest first
    response = staff_client.get("/synthesis/pellets/?sort=colour&format=csv")
    assert response.status_code == 400 and response["Content-Type"] == "text/plain"
    assert response.content.decode().startswith("Sort: there is no column “colour”")
    response = staff_client.get("/measurements/?format=xlsx")
    assert response.status_code == 400
    assert "Export: “xlsx” is not a format this list exports (csv)." in response.content.decode()
    response = staff_client.get("/synthesis/pellets/?sintering_temperature_c=hot&format=csv")
    assert response.status_code == 400
    assert response.content.decode() == "sintering temperature (°C): Enter a number.\n"


def test_the_measurement_list_sorts_and_exports(staff_client, measured_demo):
    html = staff_client.get("/measurements/?sort=-temperature_c").content.decode()
    first = re.findall(r'<a href="/measurements/(MEAS-\d+)/">', html)[:2]
    assert first == ["MEAS-0014", "MEAS-0007"]  # both at 80 °C: the newer first
    rows = _csv(staff_client.get("/measurements/?technique=cycling&format=csv&sort=code"))
    assert rows[0] == ["code", "sample", "what", "technique", "T (°C)", "status", "created"]
    assert [r[:2] for r in rows[1:]] == [["MEAS-0015", "CELL-0005"], ["MEAS-0016", "CELL-0006"]]
    assert rows[1][3:6] == ["Galvanostatic cycling", "", "Done"]
