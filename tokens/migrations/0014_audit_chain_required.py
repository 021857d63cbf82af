"""Issue 18: every event is in a chain now (0013), so the chain columns are required and a
position in a chain is unique (two writers can never both take the same seq)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tokens", "0013_audit_chain_backfill")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="chain",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tokens.auditchainhead",
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="chain_seq",
            field=models.PositiveBigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=("chain", "chain_seq"), name="audit_chain_position"
            ),
        ),
    ]
