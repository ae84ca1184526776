"""Checkout reads."""

from __future__ import annotations

from checkout.models import Order


def order_get(*, order_id: int) -> Order | None:
    """One order by id, or None."""
    return Order.objects.filter(pk=order_id).first()


def order_count(*, idempotency_key: str | None = None) -> int:
    """How many orders exist (for one key, if given)."""
    orders = Order.objects.all()
    if idempotency_key is not None:
        orders = orders.filter(idempotency_key=idempotency_key)
    return orders.count()
