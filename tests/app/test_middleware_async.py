"""Under ASGI the middleware chain is async end to end: Django adapts (thread-hops) none of it."""

from __future__ import annotations

import logging

import pytest


def test_no_middleware_is_adapted_in_the_async_chain(
    django_app: None, caplog: pytest.LogCaptureFixture
) -> None:
    from django.core.handlers.asgi import ASGIHandler
    from django.test import override_settings

    # With DEBUG on, Django logs every sync middleware it wraps in sync_to_async.
    with override_settings(DEBUG=True), caplog.at_level(logging.DEBUG, logger="django.request"):
        ASGIHandler()
    adapted = [r.getMessage() for r in caplog.records if "adapted for" in r.getMessage()]
    assert adapted == []


def test_the_same_middleware_still_serves_sync_requests(django_app: None) -> None:
    from django.test import Client

    response = Client().get("/livez")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


def test_djangos_middlewares_cost_no_thread_hop_per_request(
    django_app: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from asgiref.sync import SyncToAsync
    from django.test import AsyncClient
    from django.utils.deprecation import MiddlewareMixin

    hops: list[str] = []
    original = SyncToAsync.__call__

    async def counted(self: SyncToAsync, *args: object, **kwargs: object) -> object:
        owner = getattr(self.func, "__self__", None)
        if isinstance(owner, MiddlewareMixin):  # a process_request/response sent to a thread
            hops.append(f"{type(owner).__name__}.{self.func.__name__}")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    # A path through the whole chain to the resolver (a 404 needs no service).
    response = asyncio.run(AsyncClient().get("/no-such-page/"))
    assert response.status_code == 404
    assert hops == [], hops


def test_inline_sessions_are_signed_cookies_only(django_app: None) -> None:
    from core.inline_middleware import SIGNED_COOKIE_SESSIONS
    from django.conf import settings

    # Any other engine saves to the database or the cache: on the event loop that blocks the
    # process (or fails as a sync call from async code).
    if "core.inline_middleware.SessionMiddleware" in settings.MIDDLEWARE:
        assert settings.SESSION_ENGINE == SIGNED_COOKIE_SESSIONS
