"""Django's ASGI handler, with a sync view's whole request in one thread hop on a reused thread.

Under ASGI, Django runs the middleware chain on the event loop and hops to a thread for each
sync part: every hook of its own sync-style middleware (security, sessions, common, CSRF,
auth, clickjacking), the view, the signals. That is 14 hops for one page here, each a queue
handoff and a loop wake-up, and the thread they hop to is built from scratch per request and
joined by a second new thread afterwards. On a busy 2-core node those cost more than the
page's query (`make bench`, issue 16).

This handler:

- serves a request for a **sync view** through a second, sync-loaded copy of the same
  middleware chain, in a single hop: middleware, view and template on one thread, as under
  WSGI. Async views, and the probes the async chain answers on the loop, keep the async chain.
- hands each request an **idle thread** from a pool through asgiref's public
  `ThreadSensitiveContext(executor=...)` instead of a new one. It is entered in `handle`,
  inside Django's own `__call__`, so whatever wraps that (Sentry's per-request scope) still runs.

Django's guarantees stay: all of a request's sync code on one thread, different requests on
different threads, nothing shared by two requests at once. A thread goes back to the pool only
once a last call on it has run, so nothing of its request can still be running there, and only
if its request left no transaction behind on its database connections; else it is let go.

One rule follows from asgiref's executor contexts: a task an async view starts inherits its
request's context, and a thread-sensitive call it makes after the request ended raises
RuntimeError (stock Django would quietly move it to a new thread). Start work that may outlive
its request with `task_outliving_request`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import HttpRequest, HttpResponseBase
from django.urls import get_resolver, get_urlconf

from health.middleware import probe_answers_on_event_loop

IDLE_THREADS_MAX = 32
"""Idle request threads kept per process; more concurrent requests get fresh threads."""

log = structlog.get_logger(__name__)


def task_outliving_request(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Start `coro` as a task that may outlive the request (its sync calls use a shared thread)."""
    # A fresh context: none of the request's, so not its request thread's executor either; nor
    # its other context variables (the request's log binding, Sentry's scope): bind what it needs.
    return asyncio.create_task(coro, context=contextvars.Context())


def request_thread_reusable() -> bool:
    """On a request thread at request end: True unless a database connection kept a transaction.

    A request that left an `atomic()` open (a leaked generator, a manual `__enter__`) leaves
    its connection object mid-transaction on this thread; every later request here would fail.
    """
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block or connection.closed_in_transaction:
            log.warning("request_thread_discarded", alias=connection.alias,
                        reason="a transaction was left open")
            return False
    return True


class OneThreadHopASGIHandler(ASGIHandler):
    """ASGIHandler: sync views in one hop through a sync chain, on pooled request threads."""

    def __init__(self) -> None:
        super().__init__()
        self._sync_chain = BaseHandler()
        self._sync_chain.load_middleware(is_async=False)
        # Touched only from the event loop's thread, so a plain list needs no lock.
        self._idle: list[ThreadPoolExecutor] = []

    def idle_threads(self) -> int:
        """How many request threads wait for a request (for tests)."""
        return len(self._idle)

    def uses_async_chain(self, request: HttpRequest) -> bool:
        """Whether the request is for an async view (or a probe answered on the loop)."""
        if probe_answers_on_event_loop(request):
            return True
        try:
            match = get_resolver(get_urlconf()).resolve(request.path_info)
        except Exception:  # a 404, or a broken URLconf: the sync chain answers it Django's way
            return False
        return iscoroutinefunction(match.func)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        """Answer through the sync chain in one hop, or through the async chain for async views."""
        if self.uses_async_chain(request):
            return await super().get_response_async(request)
        return await sync_to_async(self._sync_chain.get_response, thread_sensitive=True)(request)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django's request handling, with its sync code on an idle (or new) request thread."""
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await super().handle(scope, receive, send)
        except BaseException:
            self._release_when_idle(executor)
            raise
        # A last call on the thread: it runs after anything of this request still queued there.
        check = executor.submit(request_thread_reusable)
        try:
            reusable = await asyncio.wrap_future(check)
        except BaseException:  # cancelled while checking: decide once the check has run
            self._release_when_idle(executor)
            raise
        self._park(executor, reusable=reusable)

    def _park(self, executor: ThreadPoolExecutor, *, reusable: bool) -> None:
        if reusable and len(self._idle) < IDLE_THREADS_MAX:
            self._idle.append(executor)
        else:
            executor.shutdown(wait=False)  # its thread exits once idle; nobody waits for it

    def _release_when_idle(self, executor: ThreadPoolExecutor) -> None:
        # Cancelled or failed: the request's view may still run on the thread. Park it once a
        # last call has run there, without awaiting (a cancelled task must not wait).
        loop = asyncio.get_running_loop()

        def settled(check: Any) -> None:
            reusable = not check.cancelled() and check.exception() is None and check.result()
            try:
                loop.call_soon_threadsafe(lambda: self._park(executor, reusable=reusable))
            except RuntimeError:
                executor.shutdown(wait=False)  # the loop is closed: the process is stopping

        executor.submit(request_thread_reusable).add_done_callback(settled)
