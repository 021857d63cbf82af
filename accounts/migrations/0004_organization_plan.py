from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0003_organization_api_access'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='organization',
            options={'ordering': ['name'], 'permissions': [('change_api_access', 'Can change the API access level and plan')]},
        ),
        migrations.AddField(
            model_name='organization',
            name='plan_max_active_tokens',
            field=models.PositiveIntegerField(blank=True, editable=False, help_text='Most tokens the organisation may have alive at once. Empty: site default.', null=True),
        ),
        migrations.AddField(
            model_name='organization',
            name='plan_rate_limit_per_hour',
            field=models.PositiveIntegerField(blank=True, editable=False, help_text='Most requests per hour any production token may make. Empty: site default.', null=True),
        ),
        migrations.AddField(
            model_name='organization',
            name='plan_sandbox_rate_limit_per_hour',
            field=models.PositiveIntegerField(blank=True, editable=False, help_text='Most requests per hour any sandbox token may make. Empty: site default.', null=True),
        ),
    ]
