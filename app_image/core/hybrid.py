"""A base for middleware that runs natively in both sync (WSGI, tests) and async (ASGI) chains.

Django adapts a sync-only middleware under ASGI by hopping to a thread for every request; a
middleware built on this base answers in whichever mode its neighbour uses, so an async view
stays on the event loop end to end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase


class HybridMiddleware:
    """Subclasses implement `before` (may answer early) and `after`; both are plain functions."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def before(self, request: HttpRequest) -> HttpResponseBase | None:
        """Run before the view; a response returned here is the answer."""
        return None

    def after(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """Run after the view (or after `before` answered)."""
        return response

    def done(self, request: HttpRequest) -> None:
        """Run last, whatever happened (cleanup)."""

    def __call__(
        self, request: HttpRequest
    ) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        """Dispatch to the sync or async path chosen at startup."""
        if self.is_async:
            return self._acall(request)
        try:
            response = self.before(request) or self.get_response(request)
            return self.after(request, response)
        finally:
            self.done(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        try:
            response = self.before(request) or await self.get_response(request)
            return self.after(request, response)
        finally:
            self.done(request)
