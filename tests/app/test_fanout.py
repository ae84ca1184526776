"""Async fan-out: three upstreams at once (not one after another), partial answers, deadlines
per call and for the whole fan-out against a slow-drip upstream, one shared client per upstream."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import pytest

from local.dataservices import free_port
from local.stub_upstream import StubUpstream
from tests.app.conftest import WebServer

pytestmark = pytest.mark.services
BODY = {"email": "a@b.io", "amount_cents": 1000}
NAMES = {"sanctions", "fraud", "address"}


def _calls(stub: StubUpstream, path: str, web: WebServer) -> list[tuple[str, float, float]]:
    stub.calls_log.clear()
    response = httpx.post(f"{web.url}{path}", json=BODY, timeout=10)
    assert response.status_code == 200 and response.json()["partial"] is False, response.text
    assert {name for name, _, _ in stub.calls_log} == NAMES
    return sorted(stub.calls_log, key=lambda call: call[1])


def test_async_calls_overlap_and_sync_calls_follow_each_other(
    web: WebServer, stub_upstream: StubUpstream
) -> None:
    # What the upstream saw, not the client's stopwatch: every async call began before any of
    # them was answered; every sync call began after the previous one was answered.
    concurrent = _calls(stub_upstream, "/api/checkout/prepare/", web)
    assert max(start for _, start, _ in concurrent) < min(end for _, _, end in concurrent)
    sequential = _calls(stub_upstream, "/api/checkout/prepare-sync/", web)
    for (_, _, previous_end), (_, start, _) in itertools.pairwise(sequential):
        assert start >= previous_end


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


@pytest.fixture
def drip() -> StubUpstream:
    """An upstream that sends a byte every 100 ms (30 s in all): no per-read timeout trips."""
    stub = StubUpstream(drip=frozenset({"drip"}), drip_ms=100).start()
    yield stub
    stub.stop()


def _prepare(upstreams: dict[str, str], timeout: float, deadline: float | None) -> tuple:
    from core.fanout import upstreams_call_async

    async def run() -> dict:
        return await upstreams_call_async(urls=upstreams, payload=BODY, timeout=timeout,
                                          deadline=deadline)

    started = time.perf_counter()
    results = asyncio.run(run())
    return results, time.perf_counter() - started


def test_each_call_has_a_deadline_even_when_the_upstream_drips(
    django_app: None, drip: StubUpstream, stub_upstream: StubUpstream
) -> None:
    urls = {"drip": drip.url("drip"), "fast": stub_upstream.url("fast"),
            "dead": f"http://127.0.0.1:{free_port()}/x"}
    results, elapsed = _prepare(urls, timeout=1.0, deadline=20)
    print(f"drip upstream under a 1 s call deadline: answered in {elapsed * 1000:.0f} ms")
    assert not results["drip"].ok and "Timeout" in (results["drip"].error or "")
    assert results["fast"].ok and not results["dead"].ok
    assert elapsed < 10, "the drip held the call past its deadline"


def test_the_whole_fanout_has_a_deadline(django_app: None, drip: StubUpstream,
                                         stub_upstream: StubUpstream) -> None:
    urls = {"drip": drip.url("drip"), "fast": stub_upstream.url("fast")}
    results, elapsed = _prepare(urls, timeout=25, deadline=1.0)
    print(f"drip upstream under a 1 s fan-out deadline: answered in {elapsed * 1000:.0f} ms")
    assert not results["drip"].ok and results["fast"].ok
    assert elapsed < 10, "the fan-out outlived its deadline"


def test_an_upstream_that_holds_every_connection_of_its_pool_blocks_no_other_upstream(
    django_app: None, drip: StubUpstream, stub_upstream: StubUpstream,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each upstream has its own client and so its own connection limit: with one pool for all,
    # two dripping calls would fill it and the fast upstream's call would wait out its deadline.
    import core.fanout

    monkeypatch.setattr(core.fanout, "POOL_LIMITS", httpx.Limits(max_connections=2))
    slow, fast = {"drip": drip.url("drip")}, {"fast": stub_upstream.url("fast")}

    async def run() -> dict:
        from core.fanout import upstreams_call_async

        holding = [asyncio.create_task(upstreams_call_async(
            urls=slow, payload=BODY, timeout=30, deadline=30)) for _ in range(2)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while drip.in_flight < 2 and loop.time() < deadline:  # both hold a connection
            await asyncio.sleep(0.01)
        assert drip.in_flight == 2
        try:
            return await upstreams_call_async(urls=fast, payload=BODY, timeout=5, deadline=5)
        finally:
            for task in holding:
                task.cancel()
            await asyncio.gather(*holding, return_exceptions=True)

    results = asyncio.run(run())
    assert results["fast"].ok, results["fast"]


def test_one_client_per_process_reuses_its_connections(
    web: WebServer, stub_upstream: StubUpstream
) -> None:
    stub_upstream.peers.clear()
    for _ in range(12):
        assert httpx.post(f"{web.url}/api/checkout/prepare/", json=BODY,
                          timeout=10).status_code == 200
    # 2 uvicorn workers x 3 upstreams; a client per request would open 36 connections.
    print(f"12 fan-outs opened {len(stub_upstream.peers)} upstream connections")
    assert len(stub_upstream.peers) <= 12


def test_lifespan_shutdown_closes_the_shared_clients(django_app: None) -> None:
    from config.asgi import application
    from core.fanout import upstream_client

    async def run() -> bool:
        clients = [upstream_client(name) for name in ("sanctions", "fraud")]
        inbox: asyncio.Queue = asyncio.Queue()
        sent: list[dict] = []
        for kind in ("lifespan.startup", "lifespan.shutdown"):
            inbox.put_nowait({"type": kind})

        async def send(message: dict) -> None:
            sent.append(message)

        await application({"type": "lifespan"}, inbox.get, send)
        assert [m["type"] for m in sent] == ["lifespan.startup.complete",
                                             "lifespan.shutdown.complete"]
        return all(client.is_closed for client in clients)

    assert asyncio.run(run())
