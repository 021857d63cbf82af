"""The token's terminal selection now names fleet.Terminal (moved from api, same table): state only."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fleet", "0001_initial"),
        ("tokens", "0006_password_changed"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="personalaccesstoken",
                    name="terminals",
                    field=models.ManyToManyField(blank=True, related_name="+", to="fleet.terminal"),
                ),
            ],
            database_operations=[],
        ),
    ]
