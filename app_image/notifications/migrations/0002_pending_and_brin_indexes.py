# Partial indexes over pending deliveries; BRIN over the append-only local outbox (issue 16).

import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="localoutboxmessage",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True),
        ),
        migrations.AddIndex(
            model_name="emaildelivery",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["created_at"],
                name="emaildelivery_pending_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="localoutboxmessage",
            index=django.contrib.postgres.indexes.BrinIndex(
                fields=["created_at"], name="localoutbox_created_brin"
            ),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["created_at"],
                name="webhookdelivery_pending_idx",
            ),
        ),
    ]
