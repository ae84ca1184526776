"""Async fan-out: three 300 ms upstreams at once vs one after another; partial answers.

Concurrency is shown by the stub's count of calls in flight at once, not by a deadline that a
busy machine could miss; the times are printed as figures (speed is `make bench`'s job).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from local.dataservices import free_port
from local.stub_upstream import StubUpstream
from tests.app.conftest import UPSTREAM_DELAY_MS, WebServer

pytestmark = pytest.mark.services
BODY = {"email": "a@b.io", "amount_cents": 1000}
ONE_CALL = UPSTREAM_DELAY_MS / 1000
SLOW_UPSTREAM_MS = 20_000


def _timed_post(url: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = httpx.post(url, json=BODY, timeout=10)
    return time.perf_counter() - started, response


def test_async_fanout_calls_the_three_at_once_and_sync_one_after_another(
    web: WebServer, stub_upstream: StubUpstream,
) -> None:
    _timed_post(f"{web.url}/api/checkout/prepare/")  # warm both workers' imports
    _timed_post(f"{web.url}/api/checkout/prepare-sync/")
    stub_upstream.reset_peak()
    async_time, async_response = _timed_post(f"{web.url}/api/checkout/prepare/")
    async_peak = stub_upstream.peak
    stub_upstream.reset_peak()
    sync_time, sync_response = _timed_post(f"{web.url}/api/checkout/prepare-sync/")
    sync_peak = stub_upstream.peak
    assert async_response.json()["partial"] is False
    assert sync_response.json()["partial"] is False
    print(f"fan-out async {async_time * 1000:.0f} ms ({async_peak} calls at once), "
          f"sync {sync_time * 1000:.0f} ms ({sync_peak} at once)")
    assert (async_peak, sync_peak) == (3, 1)
    assert sync_time >= 3 * ONE_CALL, sync_time  # a floor: load only makes it longer


def test_a_failing_upstream_gives_a_partial_answer(
    web: WebServer, stub_upstream: StubUpstream
) -> None:
    stub_upstream.fail = {"fraud"}
    try:
        response = httpx.post(f"{web.url}/api/checkout/prepare/", json=BODY, timeout=10)
    finally:
        stub_upstream.fail = set()
    body = response.json()
    assert response.status_code == 200 and body["partial"] is True
    assert body["checks"]["fraud"]["ok"] is False
    assert body["checks"]["sanctions"]["ok"] and body["checks"]["address"]["ok"]


def test_per_call_timeout_and_unreachable_upstream_become_failed_results(
    django_app: None,
) -> None:
    from checkout.services import checkout_prepare_async

    slow = StubUpstream(delay_ms=SLOW_UPSTREAM_MS).start()
    try:
        urls = {"fast": slow.url("fast"), "dead": f"http://127.0.0.1:{free_port()}/x"}
        slow_urls = {"slow": slow.url("slow")}
        started = time.perf_counter()
        result = asyncio.run(checkout_prepare_async(
            email="a@b.io", amount_cents=1, upstreams={**slow_urls, **urls}, timeout=0.3))
        elapsed = time.perf_counter() - started
    finally:
        slow.stop()
    assert result.partial
    assert not result.checks["slow"].ok and "Timeout" in (result.checks["slow"].error or "")
    assert not result.checks["dead"].ok
    print(f"fan-out with a 0.3 s per-call timeout and a {SLOW_UPSTREAM_MS} ms upstream: "
          f"{elapsed * 1000:.0f} ms")
    # It gave up on the slow one rather than waiting for it (a ceiling far from both numbers).
    assert elapsed < SLOW_UPSTREAM_MS / 1000 / 2
