"""The fleet models now belong to the fleet app (fleet/0001): drop them from this app's state.

No table is touched: fleet's models keep the api_* tables with every row in them.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0005_idempotency_record"),
        ("fleet", "0001_initial"),
        ("tokens", "0007_terminals_from_fleet"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="TelemetryReading"),
                migrations.DeleteModel(name="Alarm"),
                migrations.DeleteModel(name="MaintenanceRecord"),
                migrations.DeleteModel(name="Spreader"),
                migrations.DeleteModel(name="Terminal"),
            ],
            database_operations=[],
        ),
    ]
