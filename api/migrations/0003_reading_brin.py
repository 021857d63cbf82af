from django.db import migrations

from core.migration_ops import postgres_only_sql


class Migration(migrations.Migration):
    dependencies = [("api", "0002_initial")]

    operations = [
        postgres_only_sql(
            "CREATE INDEX IF NOT EXISTS reading_recorded_brin ON api_telemetryreading USING brin (recorded_at)",
            "DROP INDEX IF EXISTS reading_recorded_brin",
        ),
    ]
