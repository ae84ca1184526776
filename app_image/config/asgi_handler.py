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
  WSGI. Async views keep the async chain and stay on the event loop (the fan-out route).
- hands each request an **idle thread** from a pool through asgiref's public
  `ThreadSensitiveContext(executor=...)` instead of a new one.

Django's guarantees stay: all of a request's sync code on one thread, different requests on
different threads, nothing shared by two requests at once. A thread goes back to the pool only
when its request is over, and then it is idle: even a request whose client left mid-view ends
only once the view returned (asgiref waits for a running sync call when it is cancelled).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, get_resolver, get_urlconf

IDLE_THREADS_MAX = 32
"""Idle request threads kept per process; more concurrent requests get fresh threads."""


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

    def view_is_async(self, request: HttpRequest) -> bool:
        """Whether the URL's view is a coroutine (no view, as for a 404: treated as sync)."""
        try:
            match = get_resolver(get_urlconf()).resolve(request.path_info)
        except Resolver404:
            return False
        return iscoroutinefunction(match.func)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        """Answer through the sync chain in one hop, or through the async chain for async views."""
        if self.view_is_async(request):
            return await super().get_response_async(request)
        return await sync_to_async(self._sync_chain.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve one HTTP request with its sync code on an idle (or new) request thread."""
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < IDLE_THREADS_MAX:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)  # its thread is idle: it exits without a join
