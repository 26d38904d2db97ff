"""Deleting or deactivating a user keeps who did what (issue 12 §2): an account with history is
protected from deletion (model and admin), deactivated instead (admin action, audited), and
its records, tokens, logins and signatures then behave as the lab expects. On real values: the
BioLogic example spectrum on a 0.6 mm pellet of 1 cm² gives σ = 5.37e-04 S/cm."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from django.test import Client

from core import projects
from core.audit import acting_as
from core.models import AuditEvent, Project, Signature
from core.permissions import default_project
from core.signatures import sign, verify
from core.users import deactivate_user, deletion_refusal, user_history_summary
from measurements.models import Measurement, RawFile, Result
from measurements.services import raw_file_store
from synthesis.services import pellets_measure
from tests import factories
from tests.conftest import token_client
from tests.factories import join
from tests.instrument_files import instrument_file

MPT = instrument_file("impedance.py/exampleDataBioLogic.mpt")
BOB_PASSWORD = "pw-bob-123"
REFUSED = "an account with history cannot be deleted. Deactivate it instead (untick Active)."


def _user(name: str, role: str | None = None):
    user = get_user_model().objects.create_user(name, password=f"pw-{name}-123")
    return join(user, role) if role else user


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", password="pw-root-123")


@pytest.fixture
def admin_client(root):
    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def bob_history(db, django_capture_on_commit_callbacks):
    """bob, a manager of LAB, recorded a powder batch, measured a pellet of it (EIS, one raw
    file) through his API token and signed the pellet: (bob, batch, pellet, signature)."""
    bob = _user("bob", "manager")
    with acting_as(bob):  # as a request of his would: his history rows too
        batch = factories.lagp_batch(user=bob)
    pellet = factories.pellets(batch=batch, count=1)[0]
    pellets_measure({pellet: {"thickness_mm": 0.6, "diameter_mm": 12.9, "mass_mg": 250}})
    with django_capture_on_commit_callbacks(execute=True):
        measurement = factories.eis_upload(token_client(bob), pellet, area_cm2=1)
    sigma = Result.objects.get(measurement=measurement, kind="conductivity")
    assert f"{sigma.values['conductivity_s_cm']:.2e}" == "5.37e-04"
    pellet.refresh_from_db()  # signed as the page would load it: measured
    signature = sign(pellet, user=bob, password=BOB_PASSWORD, meaning="approved")
    return bob, batch, pellet, signature


def test_the_summary_counts_what_the_user_recorded(bob_history):
    bob, batch, pellet, _ = bob_history
    assert batch.created_by == bob and pellet.created_by is None  # pellets made by the service
    assert user_history_summary(bob) == {
        "items": 1,
        "signatures": 1,
        "raw files": 1,
        "measurements": 1,
    }
    assert deletion_refusal(bob) == (
        f"bob recorded 1 item, 1 signature, 1 raw file and 1 measurement: {REFUSED}"
    )
    assert user_history_summary(_user("nobody")) == {} and deletion_refusal(_user("none")) == ""


def test_deleting_who_created_an_item_uploaded_a_file_or_signed_is_refused(db, staff):
    creator, uploader, signer = _user("carol", "member"), _user("dave"), _user("erin", "manager")
    batch = factories.lagp_batch(user=creator)
    raw, _ = raw_file_store(io.BytesIO(MPT.read_bytes()), filename=MPT.name, user=uploader)
    pellet = factories.pellets(count=1)[0]
    signature = sign(pellet, user=signer, password="pw-erin-123", meaning="reviewed")

    for user, protected in ((creator, batch), (uploader, raw), (signer, signature)):
        with pytest.raises(ProtectedError) as refused:
            user.delete()
        assert {o.pk for o in refused.value.protected_objects} == {protected.pk}
        assert get_user_model().objects.filter(pk=user.pk).exists()
    assert user_history_summary(creator) == {"items": 1}
    assert user_history_summary(uploader) == {"raw files": 1}
    assert user_history_summary(signer) == {"signatures": 1}
    batch.refresh_from_db()
    raw.refresh_from_db()
    signature.refresh_from_db()
    assert (batch.created_by, raw.uploaded_by, signature.signer) == (creator, uploader, signer)


def test_the_admin_refuses_to_delete_an_account_with_history_saying_why(admin_client, bob_history):
    bob = bob_history[0]
    why = f"bob recorded 1 item, 1 signature, 1 raw file and 1 measurement: {REFUSED}"
    url = f"/admin/auth/user/{bob.pk}/delete/"

    page = admin_client.get(url)
    assert page.status_code == 200 and why in page.content.decode()
    # Not every protected record listed: the summary instead.
    assert bob_history[1].code not in page.content.decode()

    posted = admin_client.post(url, {"post": "yes"})
    assert posted.status_code == 200 and why in posted.content.decode()
    assert get_user_model().objects.filter(pk=bob.pk, is_active=True).exists()

    carol = _user("carol")  # no history: in the same selection, nothing is deleted
    bulk = admin_client.post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": [bob.pk, carol.pk], "post": "yes"},
    )
    assert bulk.status_code == 200 and why in bulk.content.decode()
    assert "carol recorded" not in bulk.content.decode()
    assert get_user_model().objects.filter(pk__in=[bob.pk, carol.pk]).count() == 2


def test_deactivating_keeps_who_did_what_and_ends_logins_and_tokens(
    admin_client, root, staff, api, bob_history
):
    bob, batch, pellet, signature = bob_history
    bob_api = token_client(bob)
    assert bob_api.get("/api/items/").status_code == 200
    assert Client().login(username="bob", password=BOB_PASSWORD)

    listed = admin_client.get("/admin/auth/user/")
    assert "deactivate_selected" in listed.content.decode()
    assert "column-is_active" in listed.content.decode()
    done = admin_client.post(
        "/admin/auth/user/",
        {"action": "deactivate_selected", "_selected_action": [bob.pk]},
        follow=True,
    )
    assert done.status_code == 200
    assert "Deactivated bob: no login or API token works for them" in done.content.decode()
    bob.refresh_from_db()
    assert bob.is_active is False

    event = AuditEvent.objects.get(model="auth.user", object_pk=str(bob.pk), action="update")
    assert event.username == "root"
    assert (event.before["is_active"], event.after["is_active"]) == (True, False)

    # No login (the page again, not a redirect), no token.
    form = Client().post("/accounts/login/", {"username": "bob", "password": BOB_PASSWORD})
    assert form.status_code == 200 and 'name="username"' in form.content.decode()
    assert not Client().login(username="bob", password=BOB_PASSWORD)
    refused = bob_api.get("/api/items/")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "User inactive or deleted."}

    # His records still name him: the API, the item page, its history.
    assert api.get(f"/api/items/{batch.code}/").json()["created_by"] == "bob"
    measurement = Measurement.objects.get(item=pellet)
    assert measurement.created_by == bob and RawFile.objects.get().uploaded_by == bob
    alice = Client()
    alice.force_login(staff)
    page = alice.get(f"/items/{batch.code}/").content.decode()
    assert "by bob (deactivated)" in page
    assert "<td>bob (deactivated)</td>" in page  # the history's row of his create

    # His signature still verifies: the canonical JSON names him as it did.
    signature.refresh_from_db()
    assert signature.signer == bob and signature.signer_username == "bob"
    check = verify(signature, audit=False)
    assert check.intact, check.changes
    assert Signature.objects.get(pk=signature.pk).sha256 == signature.sha256


def test_one_cannot_deactivate_oneself(admin_client, root):
    with pytest.raises(ValidationError, match="your own account"):
        deactivate_user(root, by=root)
    done = admin_client.post(
        "/admin/auth/user/",
        {"action": "deactivate_selected", "_selected_action": [root.pk]},
        follow=True,
    )
    assert "You cannot deactivate your own account" in done.content.decode()
    root.refresh_from_db()
    assert root.is_active is True


def test_a_user_without_history_may_be_deleted_and_the_log_names_them(admin_client, staff):
    carol = _user("carol", "member")
    with acting_as(carol):
        lot = factories.reagent_lot(supplier="Honjo")  # audited as hers, authored by none
    assert user_history_summary(carol) == {}
    carol_pk = carol.pk

    deleted = admin_client.post(f"/admin/auth/user/{carol_pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not get_user_model().objects.filter(pk=carol_pk).exists()
    event = AuditEvent.objects.get(item=lot, action="create")
    assert (event.user, event.username, event.user_pk) == (None, "carol", carol_pk)
    assert event.who == "carol (account deleted)"


def test_a_deactivated_manager_no_longer_counts_as_the_projects_manager(
    admin_client, staff, bob_history
):
    bob = bob_history[0]
    other = Project.objects.create(code="B", name="Group B")
    join(bob, "manager", other)
    join(_user("carol"), "member", other)

    done = admin_client.post(
        "/admin/auth/user/",
        {"action": "deactivate_selected", "_selected_action": [bob.pk]},
        follow=True,
    ).content.decode()
    # LAB keeps alice; B had bob only.
    assert "B now has no active manager (bob was the last)" in done
    assert "LAB now has" not in done

    # The project pages still work and say who is deactivated.
    page = admin_client.get("/projects/B/")
    assert page.status_code == 200
    assert "bob <small>(deactivated)</small>" in page.content.decode()

    lab = default_project()
    # alice is LAB's last active manager: she cannot step down, bob does not count ...
    with pytest.raises(ValidationError, match="the last manager of LAB"):
        projects.membership_set(lab, by=staff, username="alice", role="member")
    # ... and she can remove him, deactivated (refused as "no active user" before).
    projects.membership_remove(lab, by=staff, username="bob")
    assert not lab.memberships.filter(user=bob).exists()
    # Adding him back is refused: he is not active.
    with pytest.raises(ValidationError, match="No active user named 'bob'"):
        projects.membership_set(lab, by=staff, username="bob", role="viewer")
