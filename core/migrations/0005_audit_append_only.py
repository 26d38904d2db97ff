"""On PostgreSQL the audit log is append-only in the database itself: a trigger refuses UPDATE
and DELETE of its rows, whatever issues them (the application, a shell, a raw SQL session).

One change is let through: a foreign key set to NULL by `on_delete=SET_NULL` when the user or
item it points at is deleted, with every other column unchanged (the row keeps the username, so
the history still names who it was). TRUNCATE is not a row operation and is left to the table's
owner (Django's test flush uses it). SQLite has no such triggers worth having: a no-op there.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION lims_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.user_id IS NULL OR NEW.user_id = OLD.user_id)
           AND (NEW.item_id IS NULL OR NEW.item_id = OLD.item_id)
           AND to_jsonb(NEW) - 'user_id' - 'item_id' = to_jsonb(OLD) - 'user_id' - 'item_id' THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % of lims_auditevent row % refused',
        TG_OP, OLD.id USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER lims_auditevent_append_only
    BEFORE UPDATE OR DELETE ON lims_auditevent
    FOR EACH ROW EXECUTE FUNCTION lims_auditevent_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS lims_auditevent_append_only ON lims_auditevent;
DROP FUNCTION IF EXISTS lims_auditevent_append_only();
"""


class PostgresOnlySQL(migrations.RunSQL):
    """RunSQL on PostgreSQL, nothing elsewhere (the SQL is plpgsql)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("lims", "0004_audit_username_token_expiry")]

    operations = [PostgresOnlySQL(FORWARD, REVERSE)]
