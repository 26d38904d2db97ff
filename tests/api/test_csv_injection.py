"""Every CSV the LIMS exports opens safely in a spreadsheet: a text cell that begins with
= + - @, a tab or a carriage return is a formula to Excel, LibreOffice and Google Sheets (CSV
injection, OWASP), so it is written with a leading apostrophe; numbers stay numbers (a
negative discharge current is a value, not a formula).

The endpoints are found, not listed: every web list's `?export=csv` (walking the URL conf for
TableViews) and every GET operation of the OpenAPI schema that answers text/csv. The free text
of every record (notes, supplier, lot number, file names, process-step notes...) holds the
payload; each endpoint's CSV is read back cell by cell."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import get_resolver
from django.urls.resolvers import URLResolver
from drf_spectacular.generators import SchemaGenerator

from core.models import Item, ProcessStep, Project
from core.views import TableView
from measurements import services
from measurements.models import Measurement, MeasurementFile, RawFile, TemperatureSeries
from synthesis.models import Chemical, LagpBatch, ReagentLot
from tests.instrument_files import ROOT as INSTRUMENT_FILES

pytestmark = pytest.mark.django_db

PAYLOADS = ['=HYPERLINK("http://x","y")', "+1", "-1+1", "@SUM(1)", "\tx", "\rx"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
# A real cycling export (cellpy's, MIT): discharge currents are negative numbers.
CYCLING = INSTRUMENT_FILES / "cellpy" / "maccor_three.txt"
EIS = INSTRUMENT_FILES / "impedance.py" / "exampleDataBioLogic.mpt"


def web_exports() -> list[str]:
    """Each web list (a TableView in the URL conf) with `?export=csv`."""
    found = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif issubclass(getattr(p.callback, "view_class", object), TableView):
                found.append(f"/{prefix}{p.pattern}?export=csv")

    walk(get_resolver().url_patterns, "")
    return found


def api_exports() -> list[str]:
    """Each GET operation of the OpenAPI schema with a text/csv answer, with `?format=csv`."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        f"{path}?format=csv"
        for path, operations in schema["paths"].items()
        if "text/csv"
        in operations.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
    ]


@pytest.fixture
def records(demo, staff, settings, tmp_path, django_capture_on_commit_callbacks):
    """The demo study with a real cycling file on a full cell and a real EIS file on a
    pellet, processed."""
    from django.core.files import File

    from core.audit import acting_as

    settings.MEDIA_ROOT = tmp_path
    cell, pellet = demo["full_spe"], Item.objects.get(code="PEL-0003")
    with acting_as(staff), django_capture_on_commit_callbacks(execute=True):
        with open(CYCLING, "rb") as fh:
            cycling = services.measurement_create(
                user=staff, item=cell, fields={"technique": "cycling"}, uploads=[File(fh)]
            )
        with open(EIS, "rb") as fh:
            services.measurement_create(
                user=staff,
                item=pellet,
                fields={"technique": "eis", "temperature_c": 25, "area_cm2": 1.0},
                uploads=[File(fh)],
            )
    cycling.refresh_from_db()
    assert cycling.status in ("done", "done_with_warnings"), cycling.status_detail
    return {"cell": cell, "pellet": pellet, "cycling": cycling}


def put_in_free_text(text: str) -> None:
    """Every field a person types free text into, on every record (written directly: the
    export is under test, not the forms)."""
    # The summary is made from what people typed (a chemical's name, a supplier, a ratio).
    Item.objects.update(notes=text, summary=text)
    LagpBatch.objects.update(phase_result=text)
    ProcessStep.objects.update(notes=text, solvent=text)
    ReagentLot.objects.update(supplier=text, grade=text, lot_number=text)
    for chemical in Chemical.objects.all():  # names are unique
        Chemical.objects.filter(pk=chemical.pk).update(name=f"{text} {chemical.pk}")
    Measurement.objects.update(notes=text, status_detail=text)
    TemperatureSeries.objects.update(status_detail=text)
    RawFile.objects.update(original_name=text)
    MeasurementFile.objects.update(filename=text)
    Project.objects.update(name=text, description=text)


def fill(path: str, records) -> str:
    """The path with its parameters: the cycling measurement, the pellet (it has a temperature
    series), the first record of a kind."""
    from lims.api.urls import router

    if "{" not in path:
        return path
    prefix = path.split("/")[2]
    if prefix == "measurements":
        return path.replace("{code}", records["cycling"].code)
    if prefix == "items":
        return path.replace("{code}", records["pellet"].code)
    viewset = dict((p, v) for p, v, _ in router.registry)[prefix]
    obj = viewset.queryset.order_by("pk").first()
    return path.replace("{code}", getattr(obj, "code", "")).replace("{id}", str(obj.pk))


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


# Endpoints whose CSV has no free text at all (codes, numbers, dates, fixed words): they are
# still read cell by cell, and their negative numbers must stay numbers.
NO_FREE_TEXT = {
    "/synthesis/pellets/?export=csv",
    "/synthesis/membranes/?export=csv",
    "/synthesis/ile/?export=csv",
    "/synthesis/coatings/?export=csv",
    "/synthesis/membrane-pieces/?export=csv",
    "/synthesis/disks/?export=csv",
    "/cells/?export=csv",
    "/api/measurements/{code}/cycles/?format=csv",
    "/api/measurements/{code}/data/?format=csv",
    "/api/measurements/{code}/plot/?format=csv",
    "/api/pellet-sets/?format=csv",
    "/api/pellet-sets/{id}/?format=csv",
    "/api/results/?format=csv",
    "/api/results/{id}/?format=csv",
    "/api/projects/{code}/members/?format=csv",
}


def test_every_csv_endpoint_is_found():
    web, api = web_exports(), api_exports()
    # 10 web lists, 38 API operations (lists, records, lineage, lineage table, temperature
    # series, a measurement's cycles, data, plot and status, results, projects and members).
    assert (len(web), len(api)) == (10, 38)
    assert set(web + api) >= NO_FREE_TEXT


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_no_csv_export_hands_a_spreadsheet_a_formula(payload, records, staff_client):
    put_in_free_text(payload)
    leaks, carried, negative = {}, set(), {}
    for template in web_exports() + api_exports():
        url = fill(template, records)
        response = staff_client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        assert response["Content-Type"].startswith("text/csv"), url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        values = cells(body.decode("utf-8"))
        live = [v for v in values if v.startswith(FORMULA_STARTS) and not NUMBER.match(v)]
        if live:
            leaks[url] = live[:3]
        if any(v.startswith("'" + payload) for v in values):
            carried.add(template)
        negative[template] = sum(1 for v in values if v.startswith("-") and NUMBER.match(v))
    assert leaks == {}
    # Not a vacuous pass: every endpoint with free text exported the payload, neutralised...
    assert carried == set(web_exports() + api_exports()) - NO_FREE_TEXT
    # ...and numbers are still numbers: the discharge currents of the real cycling file.
    data = "/api/measurements/{code}/data/?format=csv"
    assert negative[data] > 1000, negative[data]
