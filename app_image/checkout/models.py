"""Checkout's data: orders."""

from django.db import models


class Order(models.Model):
    """An order; `idempotency_key` is unique so a key can never make two orders."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    email = models.EmailField()
    amount_cents = models.PositiveIntegerField()
    status = models.CharField(max_length=20, default="placed")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"order {self.pk}"
