"""Two people editing one record never silently overwrite each other: only changed fields are
written (under a row lock), the API answers ETags and refuses a stale If-Match with 412, and a
web form loaded before someone else saved says so instead of saving."""

from __future__ import annotations

import json
import re
import threading
import urllib.request

import pytest

from core.api.tokens import token_rotate
from core.services import item_update
from synthesis.models import Pellet
from tests import factories


@pytest.fixture
def pellet(db):
    pellet = factories.pellets(count=1)[0]
    return item_update(pellet, thickness_mm=0.60, diameter_mm=12.9, mass_mg=249.0)


def _reload(pellet) -> Pellet:
    return Pellet.objects.get(pk=pellet.pk)


def test_two_stale_copies_each_changing_one_field_keep_both_changes(pellet):
    first, second = _reload(pellet), _reload(pellet)  # both read before either writes
    item_update(first, thickness_mm=0.58)
    item_update(second, diameter_mm=13.1)
    now = _reload(pellet)
    assert (now.thickness_mm, now.diameter_mm, now.mass_mg) == (0.58, 13.1, 249.0)


def test_every_save_raises_the_version(pellet):
    before = _reload(pellet).version
    item_update(_reload(pellet), notes="polished again")
    assert _reload(pellet).version == before + 1
    item_update(_reload(pellet), notes="polished again")  # nothing changed: nothing written
    assert _reload(pellet).version == before + 1


def test_a_record_answers_its_etag_and_304_while_unchanged(api, pellet):
    url = f"/api/pellets/{pellet.code}/"
    first = api.get(url)
    etag = first["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    api.patch(url, {"notes": "chipped edge"}, format="json")
    again = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200 and again["ETag"] != etag


def test_a_write_with_a_stale_if_match_is_412_and_changes_nothing(api, pellet):
    url = f"/api/pellets/{pellet.code}/"
    etag = api.get(url)["ETag"]
    changed = api.patch(url, {"diameter_mm": 13.0}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    stale = api.patch(url, {"thickness_mm": 0.5}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["etag"] == changed["ETag"]
    assert "changed since you read it" in stale.json()["detail"]
    assert _reload(pellet).thickness_mm == 0.60
    assert api.delete(url, HTTP_IF_MATCH=etag).status_code == 412
    fresh = api.patch(url, {"thickness_mm": 0.5}, format="json", HTTP_IF_MATCH=changed["ETag"])
    assert fresh.status_code == 200 and _reload(pellet).thickness_mm == 0.5


def test_if_match_star_and_the_etag_of_a_create(api):
    chemical = api.post(
        "/api/chemicals/", {"name": "LiBOB", "category": "lithium_salt"}, format="json"
    )
    assert chemical.status_code == 201 and chemical["ETag"]
    url = f"/api/chemicals/{chemical.json()['id']}/"
    assert api.get(url)["ETag"] == chemical["ETag"]
    assert (
        api.patch(url, {"formula": "LiB(C2O4)2"}, format="json", HTTP_IF_MATCH="*").status_code
        == 200
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_patches_of_different_fields_both_stay(live_server, staff):
    """The issue's case: two clients PATCH one pellet at the same moment, one its thickness,
    the other its diameter; before, one change was lost in 50 of 50 trials."""
    pellet = factories.pellets(count=1)[0]
    token = token_rotate(staff).key
    url = f"{live_server.url}/api/pellets/{pellet.code}/"

    def patch(body, barrier):
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            method="PATCH",
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        barrier.wait()
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200

    for trial in range(20):
        thickness, diameter = 0.5 + trial / 100, 12.0 + trial / 10
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=patch, args=({"thickness_mm": thickness}, barrier)),
            threading.Thread(target=patch, args=({"diameter_mm": diameter}, barrier)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        now = _reload(pellet)
        assert (now.thickness_mm, now.diameter_mm) == (thickness, diameter), trial


def test_a_web_form_loaded_before_someone_saved_says_so_and_saves_nothing(staff_client, pellet):
    form = staff_client.get(f"/items/{pellet.code}/edit/").content.decode()
    version = re.search(r'name="_version" value="(\d+)"', form).group(1)
    loaded_at = re.search(r'name="_loaded_at" value="([^"]+)"', form).group(1)
    item_update(_reload(pellet), diameter_mm=13.2)  # a colleague saves meanwhile
    mine = {
        "thickness_mm": "0.58",
        "diameter_mm": "12.9",
        "mass_mg": "249",
        "notes": "",
        "_version": version,
        "_loaded_at": loaded_at,
    }
    response = staff_client.post(f"/items/{pellet.code}/edit/", mine)
    assert response.status_code == 400
    page = response.content.decode()
    assert f"{pellet.code} was changed while you were editing it" in page
    assert "12.9" in page  # the user's entries are kept
    assert _reload(pellet).thickness_mm == 0.60 and _reload(pellet).diameter_mm == 13.2
    current = re.search(r'name="_version" value="(\d+)"', page).group(1)
    assert int(current) > int(version)
    again = staff_client.post(f"/items/{pellet.code}/edit/", {**mine, "_version": current})
    assert again.status_code == 302
    assert (_reload(pellet).thickness_mm, _reload(pellet).diameter_mm) == (0.58, 12.9)


def _loaded_version(page: str, name: str = "_version") -> str:
    return re.search(rf'name="{name}" value="(\d+)"', page).group(1)


def test_the_pellet_set_forms_notice_a_change_made_meanwhile(staff_client, pellet):
    from synthesis.services import pellet_set_update

    pellet_set = pellet.pellet_set
    url = f"/synthesis/pellet-sets/{pellet_set.pk}/"
    page = staff_client.get(url).content.decode()
    version = _loaded_version(page, f"version-{pellet.pk}")
    item_update(_reload(pellet), mass_mg=250.0)  # a colleague weighs it again meanwhile
    rows = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-item_ptr": pellet.pk,
        "form-0-thickness_mm": "0.59",
        "form-0-diameter_mm": "12.9",
        "form-0-mass_mg": "249",
        "form-0-notes": "",
        f"version-{pellet.pk}": version,
    }
    stale = staff_client.post(url, rows)
    assert stale.status_code == 400
    assert f"{pellet.code} was changed by" in stale.content.decode()
    assert _reload(pellet).mass_mg == 250.0 and _reload(pellet).thickness_mm == 0.60

    edit = f"/synthesis/pellet-sets/{pellet_set.pk}/edit/"
    version = _loaded_version(staff_client.get(edit).content.decode())
    pellet_set_update(pellet_set, fields={"sintering_dwell_h": 10.0})
    conditions = {
        "batch": pellet_set.batch.code,
        "die_diameter_mm": "15",
        "pressing_pressure_t_cm2": "3",
        "sintering_temperature_c": "920",
        "sintering_dwell_h": "8",
        "sintering_ramp_c_min": "5",
        "theoretical_density_g_cm3": "3.47",
        "_version": version,
    }
    stale = staff_client.post(edit, conditions)
    assert stale.status_code == 400
    assert f"Pellet set {pellet_set.pk} was changed by" in stale.content.decode()
    pellet_set.refresh_from_db()
    assert (pellet_set.sintering_temperature_c, pellet_set.sintering_dwell_h) == (900.0, 10.0)
    current = _loaded_version(stale.content.decode())
    assert staff_client.post(edit, {**conditions, "_version": current}).status_code == 302
    pellet_set.refresh_from_db()
    assert pellet_set.sintering_temperature_c == 920.0


def test_the_measurement_settings_notice_a_change_made_meanwhile(staff_client, pellet):
    from measurements.models import Measurement
    from measurements.services import measurement_create, measurement_update

    measurement = measurement_create(item=pellet, fields={"technique": "eis"})
    page = staff_client.get(f"/measurements/{measurement.code}/").content.decode()
    version = _loaded_version(page)
    measurement_update(measurement, fields={"temperature_c": 40.0})
    response = staff_client.post(
        f"/measurements/{measurement.code}/settings/",
        {
            "technique": "eis",
            "temperature_c": "25",
            "eis_model": "auto",
            "reference_cycle": "1",
            "_version": version,
        },
    )
    assert response.status_code == 400
    assert f"{measurement.code} was changed by" in response.content.decode()
    assert Measurement.objects.get(pk=measurement.pk).temperature_c == 40.0
