"""Idempotency keys: concurrent duplicates make one order; replays; fail closed."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import psycopg
import pytest

from local.dataservices import DataServices
from tests.app.conftest import WebServer

pytestmark = pytest.mark.services
DUPLICATES = 50
ORDER = {"email": "buyer@example.com", "amount_cents": 4200}


def _orders_with_key(dataservices: DataServices, key: str) -> int:
    with psycopg.connect(dataservices.direct_primary_url) as conn:
        row = conn.execute("SELECT count(*) FROM checkout_order WHERE idempotency_key = %s",
                           (key,)).fetchone()
    return int(row[0]) if row else 0


async def _duplicates(url: str, key: str, n: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        return list(await asyncio.gather(*(
            client.post(url, json=ORDER, headers={"Idempotency-Key": key}) for _ in range(n)
        )))


def test_50_concurrent_duplicates_make_exactly_one_order(
    web: WebServer, dataservices: DataServices
) -> None:
    key = f"dup-{uuid.uuid4()}"
    url = f"{web.url}/api/checkout/orders/"
    responses = asyncio.run(_duplicates(url, key, DUPLICATES))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) >= 1
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    assert all(r.headers.get("Retry-After") for r in responses if r.status_code == 409)
    assert _orders_with_key(dataservices, key) == 1
    print(f"idempotency: {DUPLICATES} duplicates -> {statuses.count(201)}x 201, "
          f"{statuses.count(409)}x 409, 1 order")

    later = httpx.post(url, json=ORDER, headers={"Idempotency-Key": key})
    assert later.status_code == 201 and later.headers["Idempotent-Replayed"] == "true"
    first = next(r for r in responses if r.status_code == 201)
    assert later.json() == first.json()
    assert _orders_with_key(dataservices, key) == 1


def test_same_key_with_another_body_is_refused(web: WebServer) -> None:
    key = f"reuse-{uuid.uuid4()}"
    url = f"{web.url}/api/checkout/orders/"
    assert httpx.post(url, json=ORDER, headers={"Idempotency-Key": key}).status_code == 201
    other = httpx.post(url, json={**ORDER, "amount_cents": 1}, headers={"Idempotency-Key": key})
    assert other.status_code == 422


def test_missing_key_is_refused(web: WebServer) -> None:
    assert httpx.post(f"{web.url}/api/checkout/orders/", json=ORDER).status_code == 400


def test_add_returning_none_fails_closed(
    django_app: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # django-redis with IGNORE_EXCEPTIONS answers add() with None when Redis is down.
    from core import idempotency
    from django.http import HttpResponse
    from django.test import RequestFactory

    calls = []

    @idempotency.idempotent(scope="probe")
    def view(request: object) -> HttpResponse:
        calls.append(request)
        return HttpResponse("ran", status=201)

    monkeypatch.setattr(idempotency.cache, "add", lambda *a, **k: None)
    request = RequestFactory().post("/probe", data=json.dumps(ORDER),
                                    content_type="application/json",
                                    headers={"Idempotency-Key": "k"})
    response = view(request)
    assert response.status_code == 503 and calls == []
