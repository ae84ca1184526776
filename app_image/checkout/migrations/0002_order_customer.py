"""Orders record their customer (expand: a nullable column; the foreign key checked later)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Add `customer_id` with its foreign key NOT VALID (no table scan under a write lock)."""

    dependencies = [
        ("checkout", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="order",
                    name="customer",
                    field=models.ForeignKey(
                        null=True, db_index=False, on_delete=django.db.models.deletion.PROTECT,
                        related_name="orders", to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE checkout_order ADD COLUMN customer_id bigint NULL;",
                    "ALTER TABLE checkout_order DROP COLUMN customer_id;",
                ),
                migrations.RunSQL(
                    "ALTER TABLE checkout_order ADD CONSTRAINT checkout_order_customer_id_fk "
                    "FOREIGN KEY (customer_id) REFERENCES auth_user (id) "
                    "DEFERRABLE INITIALLY DEFERRED NOT VALID;",
                    "ALTER TABLE checkout_order DROP CONSTRAINT checkout_order_customer_id_fk;",
                ),
            ],
        ),
    ]
