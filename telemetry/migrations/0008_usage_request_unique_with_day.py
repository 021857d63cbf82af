from django.db import migrations, models


class Migration(migrations.Migration):

    """request_id is unique with created_at: the key a table partitioned by day can hold."""

    dependencies = [("telemetry", "0007_usage_sandbox")]

    operations = [
        migrations.AlterField(
            model_name='usagerecord',
            name='request_id',
            field=models.UUIDField(help_text='Makes a replayed stream entry insert nothing'),
        ),
        migrations.AddConstraint(
            model_name='usagerecord',
            constraint=models.UniqueConstraint(fields=('request_id', 'created_at'), name='usage_request_unique'),
        ),
    ]
