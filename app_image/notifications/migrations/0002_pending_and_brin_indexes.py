# Partial indexes over pending deliveries; BRIN over the append-only local outbox (issue 16).
# Built and dropped concurrently (writes go on); the outbox's B-tree on created_at goes, or the
# planner would keep choosing it over the BRIN index.

import django.contrib.postgres.indexes
from django.db import migrations, models

from core.migration_ops import AddIndexConcurrentlySafely


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrentlySafely(
            model_name="emaildelivery",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["created_at"],
                name="emaildelivery_pending_idx",
            ),
        ),
        AddIndexConcurrentlySafely(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["created_at"],
                name="webhookdelivery_pending_idx",
            ),
        ),
        AddIndexConcurrentlySafely(
            model_name="localoutboxmessage",
            index=django.contrib.postgres.indexes.BrinIndex(
                fields=["created_at"], name="localoutbox_created_brin"
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="localoutboxmessage",
                    name="created_at",
                    field=models.DateTimeField(auto_now_add=True),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX CONCURRENTLY IF EXISTS "
                    '"notifications_localoutboxmessage_created_at_5c3c80f5"',
                    reverse_sql="CREATE INDEX CONCURRENTLY IF NOT EXISTS "
                    '"notifications_localoutboxmessage_created_at_5c3c80f5" '
                    'ON "notifications_localoutboxmessage" ("created_at")',
                ),
            ],
        ),
    ]
