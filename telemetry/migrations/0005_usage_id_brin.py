from django.db import migrations

from core.migration_ops import postgres_only_sql


class Migration(migrations.Migration):
    """BRIN on id: with the BRIN on created_at, the roll-up finds the few hours a batch shares
    with rows outside it (id range AND hour range) without reading the batch's pages again."""

    dependencies = [("telemetry", "0004_usage_status_partial_indexes")]

    operations = [
        postgres_only_sql(
            "CREATE INDEX IF NOT EXISTS usage_id_brin ON telemetry_usagerecord USING brin (id)",
            "DROP INDEX IF EXISTS usage_id_brin",
        ),
    ]
