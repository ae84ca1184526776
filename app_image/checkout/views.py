"""Checkout's HTTP adapters (JSON APIs).

Placing an order needs a customer (`checkout.add_order`) and an Idempotency-Key. Preparing a
checkout writes nothing and stays open (plain async views: DRF has no async views); its input
goes through the same serializer, so bad input is a 400 naming the field there too.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from checkout.services import checkout_prepare_async, checkout_prepare_sync, order_create
from core.api import ERROR_BAD_JSON, ERROR_CONTENT_TYPE, ERROR_INVALID, JSON, JsonApi
from core.auth import permission_required
from core.idempotency import HEADER, idempotent

AMOUNT_MAX_CENTS = 2_147_483_647  # the column is a Postgres integer


class OrderInputSerializer(serializers.Serializer):
    """An order's (and a checkout preparation's) input."""

    email = serializers.EmailField(max_length=254)
    amount_cents = serializers.IntegerField(min_value=1, max_value=AMOUNT_MAX_CENTS)


def _prepare_input(request: HttpRequest) -> tuple[str, int] | JsonResponse:
    if request.content_type != JSON:
        return JsonResponse({"error": ERROR_CONTENT_TYPE}, status=415)
    try:
        data: Any = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": ERROR_BAD_JSON}, status=400)
    serializer = OrderInputSerializer(data=data)
    if not serializer.is_valid():
        return JsonResponse({"error": ERROR_INVALID, "fields": serializer.errors}, status=400)
    return serializer.validated_data["email"], serializer.validated_data["amount_cents"]


# Anonymous and cookie-free: nothing here acts on a session, so CSRF has nothing to protect.
@method_decorator(csrf_exempt, name="dispatch")
class CheckoutPrepareApi(View):
    """Prepare a checkout: three checks fanned out concurrently (async view)."""

    async def post(self, request: HttpRequest) -> JsonResponse:
        """Answer the checks, partial when one failed."""
        parsed = _prepare_input(request)
        if isinstance(parsed, JsonResponse):
            return parsed
        preparation = await checkout_prepare_async(email=parsed[0], amount_cents=parsed[1])
        return JsonResponse(preparation.as_dict())


@method_decorator(csrf_exempt, name="dispatch")
class CheckoutPrepareSyncApi(View):
    """The same preparation, calling the checks one after another (for comparison)."""

    def post(self, request: HttpRequest) -> JsonResponse:
        """Answer the checks, partial when one failed."""
        parsed = _prepare_input(request)
        if isinstance(parsed, JsonResponse):
            return parsed
        preparation = checkout_prepare_sync(email=parsed[0], amount_cents=parsed[1])
        return JsonResponse(preparation.as_dict())


class OrderCreateApi(JsonApi):
    """Place an order (customers only); requires an Idempotency-Key."""

    permission_classes = [permission_required("checkout.add_order")]

    @idempotent(scope="order-create")
    def post(self, request: Request) -> Response:
        """201 with the order id."""
        serializer = OrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = order_create(customer_id=request.user.pk,
                             idempotency_key=request.headers[HEADER].strip(),
                             **serializer.validated_data)
        return Response({"id": order.pk, "status": order.status}, status=201)
