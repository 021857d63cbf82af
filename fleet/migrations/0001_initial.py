"""The fleet models move here from the api app, tables and rows untouched.

Only Django's idea of which app owns them changes (state_operations); the database keeps the
api_* tables, their indexes, constraints, BRIN index and data. api/0006 drops them from the
api app's state, tokens/0007 points the token's terminal selection at fleet.Terminal. The
content types are renamed, not re-created, so permissions that name them keep their ids.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


MODELS = ["terminal", "spreader", "telemetryreading", "alarm", "maintenancerecord"]


def rename_content_types(apps, schema_editor, *, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    # On a database whose content types were never made (a fresh migrate), there is nothing to do.
    types.filter(app_label=new, model__in=MODELS).delete()
    types.filter(app_label=old, model__in=MODELS).update(app_label=new)


def forwards(apps, schema_editor) -> None:
    rename_content_types(apps, schema_editor, old="api", new="fleet")


def backwards(apps, schema_editor) -> None:
    rename_content_types(apps, schema_editor, old="fleet", new="api")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('api', '0005_idempotency_record'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('portal', '0002_ops_group'),
        ('tokens', '0006_password_changed'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Terminal',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('code', models.CharField(help_text='Short code, unique within the organisation (e.g. RTM-EMX).', max_length=16)),
                        ('name', models.CharField(max_length=200)),
                        ('country', models.CharField(help_text='ISO 3166-1 alpha-2', max_length=2)),
                        ('time_zone', models.CharField(default='UTC', max_length=64)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='terminals', to='portal.organization')),
                    ],
                    options={
                        'db_table': 'api_terminal',
                        'ordering': ['code'],
                    },
                ),
                migrations.CreateModel(
                    name='Spreader',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('serial_number', models.CharField(max_length=32, unique=True)),
                        ('model', models.CharField(max_length=64)),
                        ('commissioned_at', models.DateField()),
                        ('status', models.CharField(choices=[('in_service', 'In service'), ('maintenance', 'In maintenance'), ('retired', 'Retired')], default='in_service', max_length=16)),
                        ('terminal', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='spreaders', to='fleet.terminal')),
                    ],
                    options={
                        'db_table': 'api_spreader',
                        'ordering': ['serial_number'],
                    },
                ),
                migrations.CreateModel(
                    name='MaintenanceRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('performed_at', models.DateTimeField()),
                        ('kind', models.CharField(choices=[('inspection', 'Inspection'), ('repair', 'Repair'), ('part_replacement', 'Part replacement'), ('lubrication', 'Lubrication'), ('calibration', 'Calibration')], max_length=20)),
                        ('description', models.TextField(max_length=4000)),
                        ('operating_hours', models.FloatField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('created_by_token', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='tokens.personalaccesstoken')),
                        ('created_by_user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('spreader', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='maintenance_records', to='fleet.spreader')),
                    ],
                    options={
                        'db_table': 'api_maintenancerecord',
                        'ordering': ['-performed_at', '-id'],
                        'indexes': [models.Index(fields=['spreader', '-performed_at'], name='api_mainten_spreade_edc6ef_idx'), models.Index(fields=['-performed_at', '-id'], name='maintenance_recent_idx')],
                    },
                ),
                migrations.CreateModel(
                    name='Alarm',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('code', models.CharField(max_length=32)),
                        ('severity', models.CharField(choices=[('info', 'Info'), ('warning', 'Warning'), ('critical', 'Critical')], max_length=10)),
                        ('message', models.CharField(max_length=500)),
                        ('raised_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('cleared_at', models.DateTimeField(blank=True, null=True)),
                        ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
                        ('acknowledged_by_token', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='tokens.personalaccesstoken')),
                        ('acknowledged_by_user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('spreader', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alarms', to='fleet.spreader')),
                    ],
                    options={
                        'db_table': 'api_alarm',
                        'ordering': ['-raised_at', '-id'],
                        'indexes': [models.Index(fields=['spreader', '-raised_at'], name='api_alarm_spreade_6034a7_idx'), models.Index(fields=['-raised_at', '-id'], name='api_alarm_raised__041c99_idx')],
                    },
                ),
                migrations.CreateModel(
                    name='TelemetryReading',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('recorded_at', models.DateTimeField()),
                        ('twistlock_cycles', models.PositiveIntegerField()),
                        ('lifts', models.PositiveIntegerField()),
                        ('load_tonnes', models.FloatField()),
                        ('hydraulic_pressure_bar', models.FloatField()),
                        ('oil_temperature_c', models.FloatField()),
                        ('operating_hours', models.FloatField()),
                        ('spreader', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='readings', to='fleet.spreader')),
                    ],
                    options={
                        'db_table': 'api_telemetryreading',
                        'ordering': ['spreader', 'recorded_at'],
                        'constraints': [models.UniqueConstraint(fields=('spreader', 'recorded_at'), name='reading_unique_per_instant')],
                    },
                ),
                migrations.AddConstraint(
                    model_name='terminal',
                    constraint=models.UniqueConstraint(fields=('organization', 'code'), name='terminal_unique_code_per_org'),
                ),
                migrations.AddIndex(
                    model_name='spreader',
                    index=models.Index(fields=['terminal', 'status'], name='api_spreade_termina_314dfa_idx'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
