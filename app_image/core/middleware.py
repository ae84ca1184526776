"""Middleware: read-your-writes pinning and a deliberate Cache-Control on every response.

Both run natively under ASGI and WSGI (core.hybrid), so Django never hops threads for them.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from core import routing
from core.hybrid import HybridMiddleware

READ_YOUR_WRITES_SALT = "quintet.read-your-writes"


def pinned_until(request: HttpRequest, *, now: float) -> float:
    """Until when the client's reads stay on the primary (0 when the cookie is absent or bad).

    The cookie is signed (django.core.signing, salted) and at most READ_YOUR_WRITES_SECONDS
    old; its value is clamped to that window, so neither a forged nor a replayed cookie can
    pin a client to the primary for longer than one window after a real write.
    """
    window = settings.READ_YOUR_WRITES_SECONDS
    # The signature's timestamp has whole seconds: allow one more for its rounding down; the
    # value (checked below) is the exact bound.
    raw = request.get_signed_cookie(settings.READ_YOUR_WRITES_COOKIE, default=None,
                                    salt=READ_YOUR_WRITES_SALT, max_age=window + 1)
    try:
        until = float(raw) if raw is not None else 0.0
    except ValueError:
        return 0.0
    return min(until, now + window) if until == until else 0.0  # NaN is no pin


class ReadYourWritesMiddleware(HybridMiddleware):
    """Pin a client's reads to the primary for READ_YOUR_WRITES_SECONDS after it wrote.

    The window rides in a signed cookie, so it works across requests, pods and Redis outages.
    """

    def before(self, request: HttpRequest) -> HttpResponseBase | None:
        """Start the request's routing state, pinned while the cookie's window is open."""
        now = time.time()
        request.routing_token = routing.routing_state_begin(  # type: ignore[attr-defined]
            pinned=pinned_until(request, now=now) > now)
        return None

    def after(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """Set the signed pin cookie when the request wrote."""
        state = routing.routing_state()
        window = settings.READ_YOUR_WRITES_SECONDS
        if state is not None and state.wrote and window > 0:
            now = time.time()  # the window starts when the write is done, not when it began
            response.set_signed_cookie(
                settings.READ_YOUR_WRITES_COOKIE, f"{now + window:.3f}",
                salt=READ_YOUR_WRITES_SALT, max_age=window, httponly=True, samesite="Lax",
                secure=getattr(settings, "READ_YOUR_WRITES_COOKIE_SECURE", True),
            )
        return response

    def done(self, request: HttpRequest) -> None:
        """End the request's routing state."""
        token = getattr(request, "routing_token", None)
        if token is not None:
            routing.routing_state_end(token)


class CacheControlMiddleware(HybridMiddleware):
    """Give every response a deliberate Cache-Control unless the view chose one.

    Anything tied to a client (an edge-bypass cookie in or any cookie out) is private,
    no-store; anonymous successful HTML is public for a short max-age with
    stale-while-revalidate; everything else (APIs, errors, redirects) is no-store. Static files
    never reach this: WhiteNoise answers them first with a year-long immutable TTL.
    """

    def after(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """Choose the Cache-Control."""
        if response.has_header("Cache-Control"):
            return response
        client_cookies = set(settings.EDGE_BYPASS_COOKIES)
        personal = bool(client_cookies & set(request.COOKIES)) or bool(response.cookies)
        html = response.get("Content-Type", "").startswith("text/html")
        if personal:
            patch_cache_control(response, private=True, no_store=True)
        elif (request.method in settings.EDGE_CACHEABLE_METHODS
              and response.status_code == 200 and html):
            patch_cache_control(
                response, public=True, max_age=settings.PUBLIC_HTML_MAX_AGE,
                stale_while_revalidate=settings.PUBLIC_HTML_STALE_WHILE_REVALIDATE,
            )
            patch_vary_headers(response, ["Cookie"])
        else:
            patch_cache_control(response, no_store=True)
        return response
