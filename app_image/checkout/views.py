"""Checkout's HTTP adapters (JSON APIs)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from checkout.services import checkout_prepare_async, checkout_prepare_sync, order_create
from core.idempotency import HEADER, idempotent

ERROR_BAD_INPUT = "expected JSON {email, amount_cents}"


def _input(request: HttpRequest) -> tuple[str, int] | None:
    try:
        data: dict[str, Any] = json.loads(request.body)
        email, amount = str(data["email"]), int(data["amount_cents"])
    except (ValueError, KeyError, TypeError):
        return None
    return (email, amount) if "@" in email and amount > 0 else None


@method_decorator(csrf_exempt, name="dispatch")
class CheckoutPrepareApi(View):
    """Prepare a checkout: three checks fanned out concurrently (async view)."""

    async def post(self, request: HttpRequest) -> JsonResponse:
        """Answer the checks, partial when one failed."""
        parsed = _input(request)
        if parsed is None:
            return JsonResponse({"error": ERROR_BAD_INPUT}, status=400)
        preparation = await checkout_prepare_async(email=parsed[0], amount_cents=parsed[1])
        return JsonResponse(preparation.as_dict())


@method_decorator(csrf_exempt, name="dispatch")
class CheckoutPrepareSyncApi(View):
    """The same preparation, calling the checks one after another (for comparison)."""

    def post(self, request: HttpRequest) -> JsonResponse:
        """Answer the checks, partial when one failed."""
        parsed = _input(request)
        if parsed is None:
            return JsonResponse({"error": ERROR_BAD_INPUT}, status=400)
        preparation = checkout_prepare_sync(email=parsed[0], amount_cents=parsed[1])
        return JsonResponse(preparation.as_dict())


@method_decorator(csrf_exempt, name="dispatch")
class OrderCreateApi(View):
    """Place an order; requires an Idempotency-Key."""

    @method_decorator(idempotent(scope="order-create"))
    def post(self, request: HttpRequest) -> JsonResponse:
        """201 with the order id."""
        parsed = _input(request)
        if parsed is None:
            return JsonResponse({"error": ERROR_BAD_INPUT}, status=400)
        order = order_create(idempotency_key=request.headers[HEADER], email=parsed[0],
                             amount_cents=parsed[1])
        return JsonResponse({"id": order.pk, "status": order.status}, status=201)
