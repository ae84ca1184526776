"""Checkout's data: orders."""

from django.conf import settings
from django.db import models


class Order(models.Model):
    """An order; (customer, idempotency_key) is unique, so a key can never make two orders."""

    # No index of its own: the unique (customer, idempotency_key) index leads with it.
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, db_index=False,
                                 on_delete=models.PROTECT, related_name="orders")
    idempotency_key = models.CharField(max_length=200)
    email = models.EmailField()
    amount_cents = models.PositiveIntegerField()
    status = models.CharField(max_length=20, default="placed")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Keys are scoped per customer (as the idempotency records are): another customer's
        # key is no collision.
        constraints = [models.UniqueConstraint(fields=["customer", "idempotency_key"],
                                               name="order_key_once_per_customer")]

    def __str__(self) -> str:
        return f"order {self.pk}"
