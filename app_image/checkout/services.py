"""Checkout writes and the checkout preparation (three third-party checks, fanned out)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from checkout.models import Order
from core.fanout import UpstreamResult, upstreams_call_async, upstreams_call_sync
from core.routing import pin_to_primary
from notifications.services import webhook_event_publish


@dataclass(frozen=True)
class CheckoutPreparation:
    """The checks' results; `partial` when at least one check failed or timed out."""

    checks: dict[str, UpstreamResult]

    @property
    def partial(self) -> bool:
        """True when some check gave no answer."""
        return not all(result.ok for result in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the API."""
        return {"partial": self.partial,
                "checks": {name: r.as_dict() for name, r in self.checks.items()}}


def _payload(email: str, amount_cents: int) -> dict[str, Any]:
    return {"email": email, "amount_cents": amount_cents}


async def checkout_prepare_async(
    *, email: str, amount_cents: int, upstreams: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> CheckoutPreparation:
    """Run the three checks concurrently (about as long as the slowest)."""
    checks = await upstreams_call_async(
        urls=upstreams or settings.UPSTREAMS, payload=_payload(email, amount_cents),
        timeout=timeout or settings.UPSTREAM_TIMEOUT_SECONDS,
    )
    return CheckoutPreparation(checks)


def checkout_prepare_sync(
    *, email: str, amount_cents: int, upstreams: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> CheckoutPreparation:
    """Run the three checks one after another (the sum of them; kept for comparison)."""
    checks = upstreams_call_sync(
        urls=upstreams or settings.UPSTREAMS, payload=_payload(email, amount_cents),
        timeout=timeout or settings.UPSTREAM_TIMEOUT_SECONDS,
    )
    return CheckoutPreparation(checks)


def order_create(
    *, customer_id: int, idempotency_key: str, email: str, amount_cents: int
) -> Order:
    """Place a customer's order; a second call with the same key returns the first order."""
    try:
        with transaction.atomic():
            order = Order.objects.create(
                customer_id=customer_id, idempotency_key=idempotency_key, email=email,
                amount_cents=amount_cents,
            )
            # Subscribers hear of the order once it is committed (the default queue).
            webhook_event_publish(event="order.placed", event_id=f"order:{order.pk}",
                                  payload={"order_id": order.pk, "amount_cents": amount_cents})
            return order
    except IntegrityError:
        with pin_to_primary():
            return Order.objects.get(customer_id=customer_id, idempotency_key=idempotency_key)
