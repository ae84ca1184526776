"""Idempotency keys recorded in Postgres: one effect per principal and key, whatever the cache."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import psycopg
import pytest
import redis

from local.dataservices import DataServices
from tests.app.conftest import Principals, WebServer

pytestmark = pytest.mark.services
DUPLICATES = 50
ORDER = {"email": "buyer@example.com", "amount_cents": 4200}


def _orders_with_key(dataservices: DataServices, key: str) -> int:
    with psycopg.connect(dataservices.direct_primary_url) as conn:
        row = conn.execute("SELECT count(*) FROM checkout_order WHERE idempotency_key = %s",
                           (key,)).fetchone()
    return int(row[0]) if row else 0


def _headers(token: str, key: str) -> dict[str, str]:
    return {"Idempotency-Key": key, **Principals.headers(token)}


async def _duplicates(url: str, headers: dict[str, str], n: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        return list(await asyncio.gather(*(
            client.post(url, json=ORDER, headers=headers) for _ in range(n)
        )))


def _check_one_effect(responses: list[httpx.Response], dataservices: DataServices,
                      key: str) -> Counter[int]:
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    # Exactly one request ran the view; every other 201 is the stored response replayed.
    fresh = [r for r in responses
             if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    assert len(fresh) == 1, [dict(r.headers) for r in responses if r.status_code == 201]
    assert all(r.headers.get("Retry-After") for r in responses if r.status_code == 409)
    assert _orders_with_key(dataservices, key) == 1
    return statuses


def test_50_concurrent_duplicates_make_exactly_one_order(
    web: WebServer, dataservices: DataServices, principals: Principals
) -> None:
    key = f"dup-{uuid.uuid4()}"
    url = f"{web.url}/api/checkout/orders/"
    headers = _headers(principals.customer, key)
    responses = asyncio.run(_duplicates(url, headers, DUPLICATES))
    statuses = _check_one_effect(responses, dataservices, key)
    print(f"idempotency: {DUPLICATES} duplicates -> {statuses[201]}x 201, "
          f"{statuses[409]}x 409, 1 order")

    later = httpx.post(url, json=ORDER, headers=headers)
    assert later.status_code == 201 and later.headers["Idempotent-Replayed"] == "true"
    first = next(r for r in responses if r.status_code == 201)
    assert later.json() == first.json()
    assert _orders_with_key(dataservices, key) == 1


def test_concurrent_duplicates_make_one_order_without_the_redis_lock(
    web: WebServer, dataservices: DataServices, principals: Principals
) -> None:
    # With the cache Redis stopped the fast lock is gone: the record's unique row serialises
    # the duplicates, which wait and then get the stored response (or a 409).
    key = f"nolock-{uuid.uuid4()}"
    dataservices.stop_service("cache")
    try:
        responses = asyncio.run(_duplicates(f"{web.url}/api/checkout/orders/",
                                            _headers(principals.customer, key), DUPLICATES))
    finally:
        dataservices.start_service("cache")
    statuses = _check_one_effect(responses, dataservices, key)
    replayed = sum(1 for r in responses if r.headers.get("Idempotent-Replayed"))
    print(f"idempotency without Redis: {DUPLICATES} duplicates -> {statuses[201]}x 201 "
          f"({replayed} replayed), {statuses[409]}x 409, 1 order")


def test_same_key_with_another_body_is_refused_also_after_the_cache_is_flushed(
    web: WebServer, dataservices: DataServices, principals: Principals
) -> None:
    key = f"reuse-{uuid.uuid4()}"
    url = f"{web.url}/api/checkout/orders/"
    headers = _headers(principals.customer, key)
    first = httpx.post(url, json=ORDER, headers=headers)
    assert first.status_code == 201
    other = {**ORDER, "amount_cents": 1}
    assert httpx.post(url, json=other, headers=headers).status_code == 422
    redis.Redis.from_url(dataservices.cache_url).flushall()  # every cache entry is gone
    refused = httpx.post(url, json=other, headers=headers)
    assert refused.status_code == 422, refused.text
    retry = httpx.post(url, json=ORDER, headers=headers)
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert _orders_with_key(dataservices, key) == 1


def test_the_same_key_from_another_customer_is_independent(
    web: WebServer, dataservices: DataServices, principals: Principals
) -> None:
    key = f"shared-{uuid.uuid4()}"
    url = f"{web.url}/api/checkout/orders/"
    mine = httpx.post(url, json=ORDER, headers=_headers(principals.customer, key))
    theirs = httpx.post(url, json={**ORDER, "amount_cents": 99},
                        headers=_headers(principals.other_customer, key))
    assert mine.status_code == 201 and theirs.status_code == 201, theirs.text
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert _orders_with_key(dataservices, key) == 2


def test_missing_or_bad_key_is_refused(web: WebServer, principals: Principals) -> None:
    url = f"{web.url}/api/checkout/orders/"
    auth = Principals.headers(principals.customer)
    assert httpx.post(url, json=ORDER, headers=auth).status_code == 400
    too_long = httpx.post(url, json=ORDER, headers={**auth, "Idempotency-Key": "k" * 201})
    assert too_long.status_code == 400 and "Idempotency-Key" in too_long.json()["error"]


def test_a_refused_request_leaves_its_key_free(
    web: WebServer, dataservices: DataServices, principals: Principals
) -> None:
    key = f"fixup-{uuid.uuid4()}"
    url = f"{web.url}/api/checkout/orders/"
    headers = _headers(principals.customer, key)
    bad = httpx.post(url, json={**ORDER, "amount_cents": -1}, headers=headers)
    assert bad.status_code == 400
    fixed = httpx.post(url, json=ORDER, headers=headers)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers
    assert _orders_with_key(dataservices, key) == 1


def test_records_past_the_retention_are_purged(db_fresh: None) -> None:
    from datetime import timedelta

    from core.idempotency import idempotency_records_purge
    from core.models import IdempotencyRecord
    from core.routing import pin_to_primary
    from django.conf import settings
    from django.utils import timezone

    old = IdempotencyRecord.objects.create(principal="user:0", endpoint="probe",
                                           key=f"old-{uuid.uuid4()}", fingerprint="f")
    IdempotencyRecord.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - settings.IDEMPOTENCY_RETENTION - timedelta(minutes=1))
    fresh = IdempotencyRecord.objects.create(principal="user:0", endpoint="probe",
                                             key=f"new-{uuid.uuid4()}", fingerprint="f")
    assert idempotency_records_purge() >= 1
    with pin_to_primary():
        remaining = set(IdempotencyRecord.objects.filter(pk__in=[old.pk, fresh.pk])
                        .values_list("pk", flat=True))
    assert remaining == {fresh.pk}
    schedule = settings.CELERY_BEAT_SCHEDULE["hourly-idempotency-purge"]
    assert schedule["task"] == "core.tasks.idempotency_records_purge"


def test_a_view_answering_an_error_keeps_no_record(db_fresh: None) -> None:
    # A view may refuse by returning a 4xx (not raising): its record must roll back with it,
    # or a retry with the same key would find a record without a stored response.
    from core.idempotency import idempotent
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory, force_authenticate
    from rest_framework.views import APIView

    calls: list[int] = []

    class Probe(APIView):
        @idempotent(scope=f"probe-{uuid.uuid4()}")
        def post(self, request: object) -> Response:
            calls.append(1)
            return Response({"error": "not yet"}, status=409 if len(calls) == 1 else 201)

    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username=f"probe-{uuid.uuid4().hex[:8]}")
    factory, view = APIRequestFactory(), Probe.as_view()
    answers = []
    for _ in range(3):
        request = factory.post("/probe", ORDER, format="json", HTTP_IDEMPOTENCY_KEY="k")
        force_authenticate(request, user=user)
        answers.append(view(request))
    assert [a.status_code for a in answers] == [409, 201, 201]
    assert len(calls) == 2 and answers[2]["Idempotent-Replayed"] == "true"
