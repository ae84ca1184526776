"""Request metrics: latency by view and method, responses by status (async-capable middleware).

Sits right after the probe middleware, so kubelet and ALB probes are not counted. The view label
is the URL pattern's name (`content:feed`), `unmatched` for a 404 outside every pattern: never the
raw path, which would make a series per URL.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from config.metrics import REQUEST_LATENCY, RESPONSES

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def view_label(request: HttpRequest) -> str:
    """The bounded name of the view that answered `request`."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


def request_record(request: HttpRequest, response: HttpResponseBase, seconds: float) -> None:
    """Observe one request's latency and count its response."""
    view = view_label(request)
    method = request.method if request.method in KNOWN_METHODS else "other"
    REQUEST_LATENCY.labels(view=view, method=method).observe(seconds)
    RESPONSES.labels(view=view, method=method, status=str(response.status_code)).inc()


class RequestMetricsMiddleware:
    """Times each request and counts its response; works in both the sync and async chains."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[..., HttpResponseBase | Awaitable[HttpResponseBase]]
                 ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        request_record(request, response, time.perf_counter() - started)  # type: ignore[arg-type]
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = await self.get_response(request)  # type: ignore[misc]
        request_record(request, response, time.perf_counter() - started)
        return response
