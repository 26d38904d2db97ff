"""Projects, roles and what they allow: the rules of core.permissions, the choice of a new
record's project, lineage across projects (code and kind only), the upgrade into the default
project, and managing members through the pages and the API (audited)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model

from core import permissions
from core.models import AuditEvent, Item, Membership, Project
from core.services import set_steps
from tests import factories
from tests.conftest import token_client
from tests.factories import join

LOT = {
    "chemical": "Lithium foil",
    "supplier": "Honjo",
    "lot_number": "H7",
    "quantity": 10,
    "quantity_unit": "g",
}


@pytest.fixture
def lab(db):
    return permissions.default_project()


@pytest.fixture
def other(db):
    return Project.objects.create(code="SOLID", name="Solid group")


def _user(name, *roles):
    user = get_user_model().objects.create_user(name, password=f"pw-{name}-123")
    for project, role in roles:
        join(user, role, project)
    return user


def test_roles_decide_what_a_user_sees_and_changes(lab, other):
    lot_lab = factories.reagent_lot()
    lot_other = factories.reagent_lot(project=other)
    viewer = _user("vera", (lab, "viewer"))
    member = _user("mo", (lab, "member"), (other, "viewer"))
    outsider = _user("otto")
    root = get_user_model().objects.create_superuser("root", password="pw-root-123")

    def seen(user):
        return set(permissions.visible_items(user).values_list("code", flat=True))

    assert seen(viewer) == {lot_lab.code}
    assert seen(member) == {lot_lab.code, lot_other.code}
    assert seen(outsider) == set()
    assert seen(root) == {lot_lab.code, lot_other.code}
    assert (permissions.can_view(viewer, lot_lab), permissions.can_write(viewer, lot_lab)) == (
        True,
        False,
    )
    assert permissions.can_write(member, lot_lab) and not permissions.can_write(member, lot_other)
    assert permissions.role(member, other) == "viewer" and permissions.role(outsider, lab) is None
    assert not permissions.can_manage(member, lab) and permissions.can_manage(root, other)


def test_a_manager_signs_and_an_author_only_where_the_lab_allows_it(lab, settings):
    manager = _user("mia", (lab, "manager"))
    author = _user("abe", (lab, "member"))
    lot = factories.reagent_lot()
    Item.objects.filter(pk=lot.pk).update(created_by=author)
    lot = Item.objects.get(pk=lot.pk)
    settings.LIMS_AUTHOR_MAY_SIGN = False
    assert permissions.can_sign(manager, lot) and not permissions.can_sign(author, lot)
    settings.LIMS_AUTHOR_MAY_SIGN = True
    assert permissions.can_sign(author, lot)
    assert not permissions.can_sign(_user("zed", (lab, "member")), lot)  # not its author


def test_a_new_record_goes_into_the_users_only_project_or_must_name_one(lab, other, chemical):
    single = token_client(_user("sam", (lab, "member")))
    made = single.post("/api/reagent-lots/", LOT, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["project"] == "LAB"

    double = token_client(_user("dee", (lab, "member"), (other, "member")))
    refused = double.post("/api/reagent-lots/", LOT, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "project": ["Choose the project this record belongs to (LAB, SOLID)."]
    }
    made = double.post("/api/reagent-lots/", {**LOT, "project": "solid"}, format="json")
    assert made.status_code == 201 and made.json()["project"] == "SOLID"
    assert Item.objects.get(code=made.json()["code"]).project == other

    moved = double.patch(
        f"/api/reagent-lots/{made.json()['code']}/", {"project": "LAB"}, format="json"
    )
    assert moved.status_code == 400
    assert "stays in the project" in moved.json()["project"][0]


@pytest.fixture
def chemical(db):
    return factories.ChemicalFactory(name="Lithium foil", category="lithium_metal", formula="Li")


def test_a_viewer_of_the_project_is_refused_saying_so(lab, other, chemical):
    lot = factories.reagent_lot()
    api = token_client(_user("val", (lab, "viewer"), (other, "member")))
    response = api.patch(f"/api/reagent-lots/{lot.code}/", {"notes": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "You are read-only in project LAB (a viewer): you can read its records, not change them."
    )
    named = api.post("/api/reagent-lots/", {**LOT, "project": "LAB"}, format="json")
    assert named.status_code == 403
    unseen = token_client(_user("ursula", (other, "member")))
    assert unseen.get(f"/api/reagent-lots/{lot.code}/").status_code == 404
    assert (
        unseen.patch(f"/api/reagent-lots/{lot.code}/", {"notes": "x"}, format="json").status_code
        == 404
    )
    assert unseen.post("/api/reagent-lots/", {**LOT, "project": "LAB"}, format="json").json() == {
        "project": ["No project 'LAB' of yours."]
    }


def test_the_web_form_asks_for_the_project_when_there_are_several(lab, other, client, chemical):
    client.force_login(_user("dee", (lab, "member"), (other, "member")))
    page = client.get("/synthesis/reagents/new/")
    assert b'name="project"' in page.content
    data = {
        "chemical": chemical.pk,
        "supplier": "Honjo",
        "lot_number": "H9",
        "quantity": "10",
        "quantity_unit": "g",
    }
    refused = client.post("/synthesis/reagents/new/", data)
    assert refused.status_code == 400
    assert "Choose the project this record belongs to." in refused.content.decode()
    saved = client.post("/synthesis/reagents/new/", {**data, "project": "SOLID"})
    assert saved.status_code == 302
    assert Item.objects.get(kind="reagent_lot", reagentlot__lot_number="H9").project == other


def test_lineage_shows_another_projects_parent_as_code_and_kind_only(lab, other, client):
    lot = factories.reagent_lot("Lithium foil", "Li", "Li", notes="Honjo, secret batch")
    pellet = factories.pellets(count=1)[0]
    cell = factories.symmetric_cell(li=lot, pellet=pellet, project=other)
    assert (cell.project, lot.project) == (other, lab)
    reader = _user("bea", (other, "viewer"))
    client.force_login(reader)
    page = client.get(f"/items/{cell.code}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert lot.code in html and f'href="/items/{lot.code}/"' not in html
    assert lot.summary not in html and "secret batch" not in html
    assert client.get(f"/items/{lot.code}/").status_code == 404

    rows = token_client(reader).get(f"/api/items/{cell.code}/lineage/?direction=ancestors")
    by_code = {r["code"]: r for r in rows.json()}
    assert by_code[lot.code] == {"code": lot.code, "kind": "reagent_lot", "summary": "", "depth": 1}
    table = token_client(reader).get("/api/lineage-table/").json()
    assert [r["code"] for r in table["results"]] == [cell.code]
    assert table["results"][0]["pellet_code"] == pellet.code
    assert table["results"][0]["pellet_sintering_temperature_c"] is None  # hidden values
    set_steps(pellet, [{"kind": "sintering", "temperature_c": 900.0, "duration_min": 60.0}])
    url = "/api/lineage-table/?step=sintering.temperature_c"
    hidden = token_client(reader).get(url).json()["results"][0]
    assert hidden["step_sintering_temperature_c"] is None
    both = token_client(_user("bo", (lab, "viewer"), (other, "viewer"))).get(url).json()
    assert both["results"][0]["step_sintering_temperature_c"] == 900.0
    assert both["results"][0]["pellet_sintering_temperature_c"] == 900.0


def test_the_upgrade_makes_every_active_user_a_member_of_the_default_project(db, lab):
    staff = get_user_model().objects.create_user("old-staff", is_staff=True)
    reader = get_user_model().objects.create_user("old-reader")
    get_user_model().objects.create_user("gone", is_active=False)
    migration = importlib.import_module("core.migrations.0007_projects")
    migration.into_default_project(apps, None)
    roles = dict(Membership.objects.filter(project=lab).values_list("user__username", "role"))
    assert roles == {"old-staff": "manager", "old-reader": "viewer"}
    assert staff.pk and reader.pk


def test_a_manager_manages_members_on_the_page_and_it_is_audited(lab, client):
    manager = _user("mia", (lab, "manager"))
    _user("newbie")
    client.force_login(manager)
    page = client.get("/projects/LAB/")
    assert page.status_code == 200 and b'data-testid="add-member"' in page.content
    added = client.post("/projects/LAB/members/", {"username": "newbie", "role": "member"})
    assert added.status_code == 302
    assert permissions.role(get_user_model().objects.get(username="newbie"), lab) == "member"
    event = AuditEvent.objects.filter(model="lims.membership").latest("at")
    assert (event.action, event.user, event.after["role"]) == ("create", manager, "member")
    unknown = client.post("/projects/LAB/members/", {"username": "nobody", "role": "member"})
    assert unknown.status_code == 400 and "No active user named" in unknown.content.decode()
    last = client.post("/projects/LAB/members/", {"remove": "mia"}, follow=True)
    assert "the last manager of LAB" in last.content.decode()
    assert permissions.can_manage(manager, lab)


def test_members_are_managed_through_the_api_by_managers_only(lab, other):
    manager = token_client(_user("mia", (lab, "manager")))
    member = token_client(_user("mo", (lab, "member")))
    _user("newbie")
    assert [p["code"] for p in member.get("/api/projects/").json()["results"]] == ["LAB"]
    assert member.get("/api/projects/SOLID/").status_code == 404
    body = {"user": "newbie", "role": "viewer"}
    assert member.post("/api/projects/LAB/members/", body, format="json").status_code == 403
    answer = manager.post("/api/projects/LAB/members/", body, format="json")
    assert answer.status_code == 200
    assert {"user": "newbie", "role": "viewer"} in answer.json()
    wrong = manager.post(
        "/api/projects/LAB/members/", {"user": "newbie", "role": "boss"}, format="json"
    )
    assert wrong.status_code == 400 and "role" in wrong.json()
    gone = manager.delete("/api/projects/LAB/members/", {"user": "newbie"}, format="json")
    assert gone.status_code == 200 and "newbie" not in [m["user"] for m in gone.json()]
    assert AuditEvent.objects.filter(model="lims.membership", action="delete").count() == 1
    renamed = manager.patch("/api/projects/LAB/", {"name": "The lab"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "The lab"
    made = manager.post("/api/projects/", {"code": "NEW", "name": "New"}, format="json")
    assert made.status_code == 403


def test_lists_filter_by_project_among_the_users_own(lab, other, client):
    lot_lab = factories.reagent_lot()
    lot_other = factories.reagent_lot(project=other)
    user = _user("dee", (lab, "viewer"), (other, "viewer"))
    client.force_login(user)
    page = client.get("/synthesis/reagents/?project=solid").content.decode()
    assert lot_other.code in page and lot_lab.code not in page
    api = token_client(user)
    assert [i["code"] for i in api.get("/api/items/?project=LAB").json()["results"]] == [
        lot_lab.code
    ]
    outsider = token_client(_user("otto", (other, "viewer")))
    assert outsider.get("/api/items/?project=LAB").json()["count"] == 0
    measurements = client.get("/measurements/?project=LAB")
    assert (
        measurements.status_code == 200 and b'data-testid="project-filter"' in measurements.content
    )


def test_a_project_code_is_refused_in_the_same_lab_words_on_the_page_and_the_api(lab, client):
    """Django's "valid slug" message means nothing at the bench, and "already exists" had two
    wordings (the form's exact match, the service's any case): one rule and one refusal now,
    on the page and through the API alike."""
    from django.contrib.auth.models import Permission

    from core import projects

    maker = _user("mia", (lab, "manager"))
    maker.user_permissions.add(Permission.objects.get(codename="add_project"))
    client.force_login(maker)
    api = token_client(maker)

    for code in ("my project", "SSB/2027", "Förster", "X" * 21):
        page = client.post("/projects/new/", {"code": code, "name": "N"})
        assert page.status_code == 400 and projects.CODE_RULE in page.content.decode(), code
        assert "slug" not in page.content.decode()
        answer = api.post("/api/projects/", {"code": code, "name": "N"}, format="json")
        assert answer.status_code == 400 and answer.json()["code"] == [projects.CODE_RULE], code

    taken = projects.code_taken("LAB")
    for code in ("LAB", "lab"):
        page = client.post("/projects/new/", {"code": code, "name": "N"}).content.decode()
        assert taken in page and "already exists" not in page, code
        answer = api.post("/api/projects/", {"code": code, "name": "N"}, format="json")
        assert answer.json() == {"code": [taken]}, code

    made = client.post("/projects/new/", {"code": "ssb-2027", "name": "Solid cells"})
    assert made.status_code == 302 and made["Location"] == "/projects/SSB-2027/"
    # A project's code stays what it was made with.
    recoded = api.patch("/api/projects/SSB-2027/", {"code": "X"}, format="json")
    assert recoded.status_code == 400 and "Read-only field" in recoded.json()["code"][0]
