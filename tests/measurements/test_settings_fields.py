"""A measurement's settings show the fields its technique's computation reads, and saving
them leaves the other techniques' fields as they were."""

import re

import pytest

from measurements import services
from measurements.compute import TECHNIQUE_INPUTS
from measurements.models import Measurement
from tests import factories

EVERYONE = {"technique", "instrument", "temperature_c", "parser", "notes"}
OWN = {
    "eis": {"thickness_um", "area_cm2", "eis_model", "conductivity_resistances"},
    "cycling": {"active_mass_mg", "reference_cycle"},
    "stripping": {"area_cm2"},
    "tga": set(),
    "xrd": set(),
}


@pytest.fixture
def pellet(db):
    return factories.pellets(count=1)[0]


def measured(pellet, technique, **fields) -> Measurement:
    return services.measurement_create(
        item=pellet, fields={"technique": technique, "eis_model": "auto", **fields}
    )


def settings_fields(body: str) -> set[str]:
    form = re.search(
        r'<form method="post" action="/measurements/[^"]+/settings/".*?</form>', body, re.S
    )
    return set(re.findall(r'name="(\w+)"', form.group(0))) - {"csrfmiddlewaretoken", "_version"}


def test_the_mapping_names_real_settings_and_what_each_computation_reads():
    assert TECHNIQUE_INPUTS.keys() == OWN.keys()
    assert {t: set(names) for t, names in TECHNIQUE_INPUTS.items()} == OWN
    assert set().union(*OWN.values()) | EVERYONE == set(services.EDITABLE) - {"options"}


@pytest.mark.parametrize("technique", list(OWN))
def test_the_settings_form_shows_only_its_techniques_fields(staff_client, pellet, technique):
    m = measured(pellet, technique)
    body = staff_client.get(f"/measurements/{m.code}/").content.decode()
    assert settings_fields(body) == EVERYONE | OWN[technique]


def test_saving_a_cycling_measurements_settings_keeps_its_eis_fields(staff_client, pellet):
    # Set while it was an EIS measurement; then it turned out to be a cycling file.
    m = measured(
        pellet,
        "eis",
        thickness_um=612.0,
        area_cm2=0.56,
        eis_model="R0-p(R1,CPE1)",
        conductivity_resistances="R0+R1",
    )
    services.measurement_update(m, fields={"technique": "cycling"})
    m.refresh_from_db()
    body = staff_client.get(f"/measurements/{m.code}/").content.decode()
    assert "thickness_um" not in settings_fields(body)
    response = staff_client.post(
        f"/measurements/{m.code}/settings/",
        {
            "_version": m.version,
            "technique": "cycling",
            "instrument": "",
            "temperature_c": "30",
            "active_mass_mg": "3.05",
            "reference_cycle": "2",
            "parser": "",
            "notes": "",
        },
    )
    assert response.status_code == 302
    m.refresh_from_db()
    assert (m.active_mass_mg, m.reference_cycle, m.temperature_c) == (3.05, 2, 30.0)
    assert (m.thickness_um, m.area_cm2) == (612.0, 0.56)
    assert (m.eis_model, m.conductivity_resistances) == ("R0-p(R1,CPE1)", "R0+R1")
    # Back to EIS, its fields show again with what they held.
    services.measurement_update(m, fields={"technique": "eis"})
    body = staff_client.get(f"/measurements/{m.code}/").content.decode()
    assert 'name="thickness_um" value="612.0"' in body
    assert 'value="R0-p(R1,CPE1)"' in body and "active_mass_mg" not in settings_fields(body)


def test_the_new_measurement_form_marks_each_field_with_the_techniques_using_it(staff_client):
    body = staff_client.get("/measurements/new/").content.decode()
    found = re.findall(
        r'<label class="field" data-techniques="([^"]+)">[^<]*<[^>]*name="(\w+)"', body
    )
    marks = {name: set(techniques.split()) for techniques, name in found}
    assert marks == {
        "thickness_um": {"eis"},
        "area_cm2": {"eis", "stripping"},
        "eis_model": {"eis"},
        "conductivity_resistances": {"eis"},
        "active_mass_mg": {"cycling"},
        "reference_cycle": {"cycling"},
    }
    # Without JavaScript every field is on the page and shown; the select drives the toggle.
    assert re.search(r'<select name="technique"[^>]*data-technique-select', body)
    assert " hidden" not in body.split('<div class="card grid">')[1].split("</form>")[0]
