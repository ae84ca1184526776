"""Answer the probes before host validation, natively in sync and async chains.

Load balancer and kubelet probes address the pod by IP (the ALB's target health check cannot
set a Host header), so they never match DJANGO_ALLOWED_HOSTS. This middleware sits first and
serves /livez, /readyz and /healthz without calling ``request.get_host()``; every other path
still goes through Django's host validation. Under ASGI /livez and /readyz answer on the event
loop; /healthz (blocking checks) runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

from health import views
from health.readiness import readiness, sidecar_answers_async

PROBES: dict[str, Callable[[HttpRequest], HttpResponseBase]] = {
    "/livez": views.livez,
    "/readyz": views.readyz,
    "/healthz": views.healthz,
}


def _probe(request: HttpRequest) -> Callable[[HttpRequest], HttpResponseBase] | None:
    if request.method not in ("GET", "HEAD"):
        return None
    return PROBES.get(request.path_info.rstrip("/") or "/")


def probe_answers_on_event_loop(request: HttpRequest) -> bool:
    """Whether this request is a probe that the async chain answers without leaving the loop."""
    return _probe(request) in (views.livez, views.readyz)


class ProbeMiddleware:
    """Serves GET probes by path alone, whatever the Host header says."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        """Answer a probe, or pass the request on."""
        if self.is_async:
            return self._acall(request)
        probe = _probe(request)
        return probe(request) if probe is not None else self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        probe = _probe(request)
        if probe is None:
            return await self.get_response(request)
        if probe is views.livez:
            return probe(request)
        if probe is views.readyz:
            return views.readyz_response(readiness(sidecar_ok=await sidecar_answers_async()))
        return await sync_to_async(probe, thread_sensitive=False)(request)
