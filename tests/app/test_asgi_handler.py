"""The ASGI handler: a sync view's request in one thread hop, on a reused request thread.

config.asgi_handler replaces Django's hop per middleware hook and its fresh thread per request
(plus a joining thread); these tests hold it to that and to Django's guarantees: one thread per
request, never two requests on one thread at once, async views on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

URLCONF = "tests.app.asgi_handler_urls"
CEILING_SECONDS = 20.0  # a generous bound on a loaded machine; the events are what we wait for


@pytest.fixture
def handler(django_app: None) -> Iterator[Any]:
    """A OneThreadHopASGIHandler serving the test URLs."""
    from config.asgi_handler import OneThreadHopASGIHandler
    from django.test import override_settings

    from tests.app import asgi_handler_urls

    asgi_handler_urls.PAIR.reset()
    asgi_handler_urls.HOLD_STARTED.clear()
    asgi_handler_urls.HOLD_RELEASE.clear()
    with override_settings(ROOT_URLCONF=URLCONF):
        yield OneThreadHopASGIHandler()
    asgi_handler_urls.HOLD_RELEASE.set()  # never leave a view waiting


async def asgi_get(app: Any, path: str) -> tuple[int, str]:
    """GET `path` through the ASGI app (a client that stays until the answer)."""
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # never disconnects
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"testserver")],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}
    await asyncio.wait_for(app(scope, receive, send), CEILING_SECONDS)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), 0)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body.decode()


def test_sequential_requests_reuse_one_thread_and_start_none(handler: Any) -> None:
    async def run() -> tuple[list[str], int]:
        await asgi_get(handler, "/thread")  # the first request may start the thread
        started = threading.active_count()
        answers = [await asgi_get(handler, "/thread") for _ in range(5)]
        assert all(status == 200 for status, _ in answers), answers
        return [ident for _, ident in answers], threading.active_count() - started

    idents, new_threads = asyncio.run(run())
    assert len(set(idents)) == 1, idents
    assert new_threads == 0
    assert handler.idle_threads() == 1


def test_concurrent_requests_run_at_once_on_different_threads(handler: Any) -> None:
    # Each /pair view waits for the other at a barrier: one shared thread would never get the
    # second view started, and the barrier's timeout would answer 500.
    async def run() -> list[tuple[int, str]]:
        await asgi_get(handler, "/thread")  # one idle thread to hand out
        return list(await asyncio.gather(asgi_get(handler, "/pair"), asgi_get(handler, "/pair")))

    (status_a, ident_a), (status_b, ident_b) = asyncio.run(run())
    assert (status_a, status_b) == (200, 200)
    assert ident_a != ident_b
    assert handler.idle_threads() == 2


def test_no_more_idle_threads_are_kept_than_the_cap(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import asgi_handler

    monkeypatch.setattr(asgi_handler, "IDLE_THREADS_MAX", 1)

    async def run() -> list[tuple[int, str]]:
        return list(await asyncio.gather(asgi_get(handler, "/pair"), asgi_get(handler, "/pair")))

    assert [status for status, _ in asyncio.run(run())] == [200, 200]
    assert handler.idle_threads() == 1


def test_a_sync_view_request_takes_three_thread_hops_not_one_per_middleware_hook(
    handler: Any
) -> None:
    # The hops left: the request_started receivers, the whole chain, closing the response (the
    # request_finished receivers) and the reuse check. Django's async chain takes 14 here.
    async def run() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        hops = 0
        run_in_executor = loop.run_in_executor

        def counting(*args: Any) -> Any:
            nonlocal hops
            hops += 1
            return run_in_executor(*args)

        loop.run_in_executor = counting  # type: ignore[method-assign]
        status, _ = await asgi_get(handler, "/thread")
        return status, hops

    status, hops = asyncio.run(run())
    assert status == 200
    assert hops <= 4, f"{hops} thread hops for one sync view"


def test_an_async_view_is_awaited_by_the_async_chain_not_through_a_thread(handler: Any) -> None:
    # Through the sync chain it would still run, via async_to_sync (asgiref's main_wrap),
    # holding its request thread blocked for the whole view: a fan-out per thread.
    status, callers = asyncio.run(asgi_get(handler, "/async-callers"))
    assert status == 200
    assert "get_response_async" in callers.split()
    assert "main_wrap" not in callers.split()


def test_a_thread_whose_request_left_a_transaction_open_is_not_reused(handler: Any) -> None:
    async def run() -> tuple[int, int, int, int]:
        await asgi_get(handler, "/thread")  # one idle thread, handed to the buggy request
        buggy, _ = await asgi_get(handler, "/transaction-left-open")
        idle_after_buggy = handler.idle_threads()
        status, _ = await asgi_get(handler, "/transaction-left-open")  # a fresh thread works
        return buggy, idle_after_buggy, status, handler.idle_threads()

    buggy, idle_after_buggy, status, idle_after = asyncio.run(run())
    assert buggy == 200 and status == 200
    assert idle_after_buggy == 0 and idle_after == 0


def test_a_cancelled_request_s_thread_is_not_handed_on_while_its_view_runs(handler: Any) -> None:
    from tests.app import asgi_handler_urls

    async def run() -> tuple[int, str, str, int]:
        _, held_thread = await asgi_get(handler, "/thread")  # the idle thread /hold will get
        held = asyncio.create_task(asgi_get(handler, "/hold"))
        await asyncio.to_thread(asgi_handler_urls.HOLD_STARTED.wait, CEILING_SECONDS)
        held.cancel()  # as uvicorn cancels a request at its graceful-shutdown timeout
        with contextlib.suppress(asyncio.CancelledError):
            await held
        # Handed the busy thread, this request would wait behind /hold until the ceiling.
        status, thread = await asgi_get(handler, "/thread")
        asgi_handler_urls.HOLD_RELEASE.set()
        deadline = asyncio.get_running_loop().time() + CEILING_SECONDS
        while handler.idle_threads() < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)  # the held thread is parked once its view returned
        return status, thread, held_thread, handler.idle_threads()

    status, thread, held_thread, idle = asyncio.run(run())
    assert status == 200
    assert thread != held_thread
    assert idle == 2


def test_a_task_outliving_its_request_needs_task_outliving_request(handler: Any) -> None:
    from tests.app import asgi_handler_urls

    async def run() -> list[Any]:
        asgi_handler_urls.REQUEST_ENDED = asyncio.Event()  # bound to this test's loop
        assert await asgi_get(handler, "/background") == (200, "started")
        asgi_handler_urls.REQUEST_ENDED.set()  # the request is over: now the tasks call sync
        return await asyncio.wait_for(
            asyncio.gather(*asgi_handler_urls.BACKGROUND, return_exceptions=True),
            CEILING_SECONDS)

    inherited, detached = asyncio.run(run())
    # The request's own executor context has exited: asgiref refuses rather than move the call.
    assert isinstance(inherited, RuntimeError), inherited
    assert "ThreadSensitiveContext has exited" in str(inherited)
    assert isinstance(detached, int), detached
