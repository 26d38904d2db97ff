"""The audit log cannot be rewritten through the application (admin, API), nor on PostgreSQL
with raw SQL; and it keeps naming who acted after their account is deleted."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction

from core.audit import acting_as
from core.models import AuditEvent
from tests import factories

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger is PostgreSQL's (no-op on SQLite)"
)


@pytest.fixture
def admin_client(client, db):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root-123"))
    return client


@pytest.fixture
def event(staff):
    with acting_as(staff):
        lot = factories.reagent_lot(supplier="Sigma")
    return AuditEvent.objects.filter(item=lot).first()


def test_the_admin_shows_audit_rows_but_cannot_add_change_or_delete(admin_client, event):
    url = f"/admin/lims/auditevent/{event.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and "Sigma" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(url, {"object_repr": "rewritten"}).status_code == 403
    assert admin_client.get("/admin/lims/auditevent/add/").status_code == 403
    assert (
        admin_client.post(f"/admin/lims/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    bulk = admin_client.post(
        "/admin/lims/auditevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert bulk.status_code == 200  # "No action selected": delete_selected is not offered
    event.refresh_from_db()
    assert event.object_repr != "rewritten" and AuditEvent.objects.filter(pk=event.pk).exists()


def test_no_api_endpoint_writes_the_audit_log(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert not [path for path in schema["paths"] if "audit" in path]


def test_a_deleted_users_changes_still_name_them(staff, staff_client):
    bob = get_user_model().objects.create_user("bob", password="pw-bob-123", is_staff=True)
    with acting_as(bob):
        lot = factories.reagent_lot(supplier="Sigma")
    bob_pk = bob.pk
    bob.delete()
    event = AuditEvent.objects.get(item=lot, action="create")
    assert event.user is None and (event.username, event.user_pk) == ("bob", bob_pk)
    page = staff_client.get(f"/items/{lot.code}/").content.decode()
    assert "bob (account deleted)" in page


def test_a_worker_is_shown_as_system(staff_client):
    lot = factories.reagent_lot()
    assert AuditEvent.objects.get(item=lot, action="create").who == "system"
    assert "system" in staff_client.get(f"/items/{lot.code}/").content.decode()


def test_the_data_migration_copies_usernames_onto_existing_rows(staff):
    if connection.vendor == "postgresql":
        # The migration runs before 0005 installs the trigger; here the trigger is there.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks: ALTER may run
            cursor.execute(
                "ALTER TABLE lims_auditevent DISABLE TRIGGER lims_auditevent_append_only"
            )
    lot = factories.reagent_lot()
    old = AuditEvent.objects.create(
        user=staff,
        action="update",
        model="synthesis.reagentlot",
        object_pk=str(lot.pk),
        object_repr="before the migration",
        item=lot,
    )
    assert old.username == ""  # as rows written before the column existed
    migration = importlib.import_module("core.migrations.0004_audit_username_token_expiry")
    migration.keep_usernames(apps, None)
    old.refresh_from_db()
    assert (old.username, old.user_pk) == ("alice", staff.pk)


@on_postgresql
def test_postgresql_refuses_a_raw_update_or_delete_of_an_audit_row(event):
    for sql in (
        "UPDATE lims_auditevent SET object_repr = 'rewritten' WHERE id = %s",
        "UPDATE lims_auditevent SET user_id = NULL, username = '' WHERE id = %s",
        "DELETE FROM lims_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    event.refresh_from_db()
    assert event.object_repr.startswith(event.item.code) and event.username == "alice"


@on_postgresql
def test_postgresql_lets_a_deleted_user_or_item_null_its_reference(staff):
    bob = get_user_model().objects.create_user("bob", password="pw-bob-123")
    with acting_as(bob):
        lot = factories.reagent_lot()
    bob.delete()  # on_delete=SET_NULL: an UPDATE of user_id alone, which the trigger allows
    lot_pk = lot.pk
    lot.delete()
    kept = AuditEvent.objects.filter(object_pk=str(lot_pk), model="synthesis.reagentlot")
    assert kept.filter(action="create").get().username == "bob"
    assert kept.filter(action="create").get().item_id is None
