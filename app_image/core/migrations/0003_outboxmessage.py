"""The transactional outbox table (core.models.OutboxMessage)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    """Create the outbox, with a partial index over the unsent rows (the relay's scan)."""

    dependencies = [("core", "0002_idempotency_record")]

    operations = [
        migrations.CreateModel(
            name="OutboxMessage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("task_name", models.CharField(max_length=200)),
                ("args", models.JSONField(default=list)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("sent_at", models.DateTimeField(null=True)),
                ("attempts", models.PositiveIntegerField(default=0)),
            ],
            options={
                "indexes": [
                    models.Index(condition=models.Q(("sent_at__isnull", True)), fields=["id"],
                                 name="outbox_unsent"),
                    models.Index(fields=["created_at"], name="outbox_created"),
                ],
            },
        ),
    ]
