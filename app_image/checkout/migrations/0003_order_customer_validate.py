"""Validate the orders' customer foreign key (a scan that does not block writes)."""

from django.db import migrations


class Migration(migrations.Migration):
    """VALIDATE CONSTRAINT takes SHARE UPDATE EXCLUSIVE: reads and writes go on."""

    dependencies = [("checkout", "0002_order_customer")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE checkout_order VALIDATE CONSTRAINT checkout_order_customer_id_fk;",
            migrations.RunSQL.noop,
        ),
    ]
