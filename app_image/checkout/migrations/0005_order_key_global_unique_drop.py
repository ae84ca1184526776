"""Contract: drop the global unique key of orders (ship it a deploy after 0004).

The release now running orders with a customer and relies on the per-customer index; only a
release that still ordered without a customer needed the global constraint.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    """DROP CONSTRAINT (a catalog change) and the pattern index beside it, concurrently."""

    atomic = False
    contract_step = True
    dependencies = [("checkout", "0004_order_key_per_customer")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="order",
                    name="idempotency_key",
                    field=models.CharField(max_length=200),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE checkout_order "
                    "DROP CONSTRAINT IF EXISTS checkout_order_idempotency_key_key;",
                    migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "DROP INDEX CONCURRENTLY IF EXISTS "
                    "checkout_order_idempotency_key_1187e9e2_like;",
                    migrations.RunSQL.noop,
                ),
            ],
        ),
    ]
