"""Answer the probes before host validation.

Load balancer and kubelet probes address the pod by IP (the ALB's target health check cannot
set a Host header), so they never match DJANGO_ALLOWED_HOSTS. This middleware sits first and
serves /livez and /healthz without calling ``request.get_host()``; every other path still goes
through Django's host validation.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from health import views

PROBES: dict[str, Callable[[HttpRequest], HttpResponseBase]] = {
    "/livez": views.livez,
    "/healthz": views.healthz,
}


class ProbeMiddleware:
    """Serves GET probes by path alone, whatever the Host header says."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        probe = PROBES.get(request.path_info.rstrip("/") or "/")
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
