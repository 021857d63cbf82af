from django.db import migrations

from core.migration_ops import postgres_only_sql


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0001_initial")]

    operations = [
        postgres_only_sql(
            "CREATE INDEX IF NOT EXISTS usage_created_brin ON telemetry_usagerecord USING brin (created_at)",
            "DROP INDEX IF EXISTS usage_created_brin",
        ),
    ]
