from django.db import migrations

from core.migration_ops import postgres_only_sql

FORWARD = """
CREATE OR REPLACE FUNCTION tokens_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'tokens_auditevent is append-only: %% refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tokens_auditevent_append_only
    BEFORE UPDATE OR DELETE ON tokens_auditevent
    FOR EACH ROW EXECUTE FUNCTION tokens_auditevent_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS tokens_auditevent_append_only ON tokens_auditevent;
DROP FUNCTION IF EXISTS tokens_auditevent_append_only();
"""


# TRUNCATE is left to the database owner (the test runner flushes tables with it); the
# application role in production should be granted no TRUNCATE on this table.
class Migration(migrations.Migration):
    dependencies = [("tokens", "0001_initial")]

    operations = [postgres_only_sql(FORWARD, BACKWARD)]
