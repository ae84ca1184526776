"""Idempotency keys of orders are unique per customer (expand: the new unique index).

Built concurrently (writes go on). The global unique constraint stays until 0005 (the contract
step, shipped a deploy later), so the previous release, which orders without a customer, never
runs unguarded.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    """CREATE UNIQUE INDEX CONCURRENTLY (customer_id, idempotency_key); a rerun repairs it."""

    atomic = False
    dependencies = [("checkout", "0003_order_customer_validate")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddConstraint(
                    model_name="order",
                    constraint=models.UniqueConstraint(
                        fields=("customer", "idempotency_key"),
                        name="order_key_once_per_customer",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX CONCURRENTLY IF EXISTS order_key_once_per_customer;",
                    migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS order_key_once_per_customer "
                    "ON checkout_order (customer_id, idempotency_key);",
                    "DROP INDEX CONCURRENTLY IF EXISTS order_key_once_per_customer;",
                ),
            ],
        ),
    ]
