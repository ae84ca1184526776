"""The transactional outbox on the real services: a web process, the relay, workers, the
broker Redis frozen with SIGSTOP (a hung broker: it keeps its port and answers nothing)."""

from __future__ import annotations

import statistics
import time

import httpx
import pytest

from tests.celery.conftest import Receiver, Stack, wait_for

pytestmark = pytest.mark.services
SIGNUPS = 10
ORDERS = 10


def _post(url: str, path: str, body: dict, headers: dict | None = None) -> tuple[int, float]:
    started = time.perf_counter()
    response = httpx.post(url + path, json=body, headers=headers or {}, timeout=30)
    return response.status_code, time.perf_counter() - started


def _unsent(stack: Stack) -> int:
    return stack.sql("SELECT count(*) FROM core_outboxmessage WHERE sent_at IS NULL")[0][0]


def test_writes_answer_while_the_broker_hangs_and_every_message_arrives_once(
        clean: Stack, receiver: Receiver) -> None:
    url = clean.start_web()
    clean.start_worker("priority")
    clean.start_worker("default")
    endpoint = clean.drive(action="endpoint", url=receiver.url)["endpoint_id"]
    customer = {"Authorization": "Token " + clean.principal_token(
        role="customer", username=f"frozen-buyer-{time.time_ns()}")}  # orders need a customer
    try:
        warm = [_post(url, "/api/accounts/signup/", {"username": f"warm-{i}",
                "email": f"warm-{i}@example.com", "password": "a-long-test-password"})
                for i in range(3)]
        assert all(code == 201 for code, _ in warm), warm
        warm_latency = statistics.median(t for _, t in warm)
        clean.services.freeze_service("broker")
        frozen_at = time.time()
        try:
            signups = [_post(url, "/api/accounts/signup/", {
                "username": f"frozen-{i}", "email": f"frozen-{i}@example.com",
                "password": "a-long-test-password"}) for i in range(SIGNUPS)]
            orders = [_post(url, "/api/checkout/orders/",
                            {"email": f"buyer-{i}@example.com", "amount_cents": 100 + i},
                            {**customer, "Idempotency-Key": f"frozen-order-{i}"})
                      for i in range(ORDERS)]
            assert [c for c, _ in signups] == [201] * SIGNUPS
            assert [c for c, _ in orders] == [201] * ORDERS
            assert _unsent(clean) > 0  # the relay cannot publish: the messages wait in Postgres
            lag_frozen = clean.sql("SELECT extract(epoch FROM now() - min(created_at)) "
                                   "FROM core_outboxmessage WHERE sent_at IS NULL")[0][0]
        finally:
            clean.services.thaw_service("broker")
        thawed_at = time.time()
        wait_for(lambda: _unsent(clean) == 0, 120, "the relay to publish the backlog", 0.2)
        published_at = time.time()

        def all_sent() -> bool:
            emails = clean.sql("SELECT count(*) FROM notifications_emaildelivery "
                               "WHERE dedupe_key LIKE 'welcome:%%' AND status = 'sent' AND "
                               "recipient LIKE 'frozen-%%'")[0][0]
            hooks = clean.sql("SELECT count(*) FROM notifications_webhookdelivery "
                              "WHERE endpoint_id = %s AND status = 'sent'", endpoint)[0][0]
            return emails == SIGNUPS and hooks == ORDERS

        wait_for(all_sent, 180, "every welcome email and webhook after the thaw", 0.2)
    finally:
        clean.sql("UPDATE notifications_webhookendpoint SET active = false WHERE id = %s",
                  endpoint)
    latencies = sorted(t for _, t in signups + orders)
    sent_mail = clean.sql("SELECT count(*), count(DISTINCT idempotency_key) FROM "
                          "notifications_localoutboxmessage WHERE recipient LIKE 'frozen-%%'")
    keys = receiver.keys()
    print(f"\nbroker frozen {thawed_at - frozen_at:.1f}s: {SIGNUPS} sign-ups + {ORDERS} orders "
          f"answered 201, median {statistics.median(latencies) * 1000:.0f} ms (sign-ups with the "
          f"broker up: {warm_latency * 1000:.0f} ms), max "
          f"{latencies[-1] * 1000:.0f} ms; outbox lag when thawed {float(lag_frozen):.1f}s; "
          f"backlog published {published_at - thawed_at:.1f}s after the thaw; emails "
          f"{sent_mail[0]}, webhooks {len(keys)} requests for {len(set(keys))} keys")
    assert sent_mail == [(SIGNUPS, SIGNUPS)]  # one email per user: exactly once in effect
    assert len(set(keys)) == ORDERS  # every order's webhook, under its own idempotency key
    # Answers never waited for the broker (its socket timeout is 10 s; a request that touched
    # it would take at least that long).
    assert latencies[-1] < 10.0, latencies

