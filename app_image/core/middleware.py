"""Middleware: read-your-writes pinning and a deliberate Cache-Control on every response."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from core import routing

Handler = Callable[[HttpRequest], HttpResponseBase]


def _pinned_until(request: HttpRequest) -> float:
    try:
        return float(request.COOKIES.get(settings.READ_YOUR_WRITES_COOKIE, "0"))
    except ValueError:
        return 0.0


class ReadYourWritesMiddleware:
    """Pin a client's reads to the primary for READ_YOUR_WRITES_SECONDS after it wrote.

    The window rides in a cookie, so it works across requests, pods and Redis outages.
    A forged cookie only sends its own reads to the primary.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        now = time.time()
        token = routing.routing_state_begin(pinned=_pinned_until(request) > now)
        try:
            response = self.get_response(request)
            state = routing.routing_state()
            window = settings.READ_YOUR_WRITES_SECONDS
            if state is not None and state.wrote and window > 0:
                # The window starts when the answer leaves, not when the request came in: a
                # slow write (a password hash under load) must not use its window up itself.
                response.set_cookie(
                    settings.READ_YOUR_WRITES_COOKIE, f"{time.time() + window:.3f}",
                    max_age=window,
                    httponly=True, samesite="Lax",
                    secure=getattr(settings, "READ_YOUR_WRITES_COOKIE_SECURE", True),
                )
            return response
        finally:
            routing.routing_state_end(token)


class CacheControlMiddleware:
    """Give every response a deliberate Cache-Control unless the view chose one.

    Anything tied to a client (session or pin cookie in or out) is private, no-store;
    anonymous successful HTML is public for a short max-age with stale-while-revalidate;
    everything else (APIs, errors, redirects) is no-store. Static files never reach this:
    WhiteNoise answers them first with a year-long immutable TTL.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.has_header("Cache-Control"):
            return response
        client_cookies = {settings.SESSION_COOKIE_NAME, settings.READ_YOUR_WRITES_COOKIE}
        personal = bool(client_cookies & set(request.COOKIES)) or bool(response.cookies)
        html = response.get("Content-Type", "").startswith("text/html")
        if personal:
            patch_cache_control(response, private=True, no_store=True)
        elif request.method in ("GET", "HEAD") and response.status_code == 200 and html:
            patch_cache_control(
                response, public=True, max_age=settings.PUBLIC_HTML_MAX_AGE,
                stale_while_revalidate=settings.PUBLIC_HTML_STALE_WHILE_REVALIDATE,
            )
            patch_vary_headers(response, ["Cookie"])
        else:
            patch_cache_control(response, no_store=True)
        return response
