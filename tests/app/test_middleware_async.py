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
