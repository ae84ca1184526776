"""Django's own middlewares, run inline on the event loop under ASGI, not in a thread each.

Under ASGI, Django's MiddlewareMixin calls every process_request and process_response through
sync_to_async: two thread hops per middleware per request. A profile of the cached home page
put most of the origin's time in those hops (submit, wake-up, hand-back), not in the work. The
middlewares below do no I/O in their hooks with this project's settings (signed-cookie
sessions, a lazy request.user, the CSRF secret in a cookie), so they run inline, in whichever
mode the chain runs. A middleware whose hooks touch the database or the network must never be
listed here: on the event loop it would block every other request of the process.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import middleware as auth
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security

SIGNED_COOKIE_SESSIONS = "django.contrib.sessions.backends.signed_cookies"
"""The only session engine whose save is I/O-free (the inline SessionMiddleware needs it)."""


class InlineHooks:
    """Runs a MiddlewareMixin's process_request/process_response inline in async mode too."""

    get_response: Any

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        """The async path of MiddlewareMixin, without its two sync_to_async hops."""
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response  # type: ignore[no-any-return]


class SecurityMiddleware(InlineHooks, security.SecurityMiddleware):
    """Django's SecurityMiddleware (headers and the HTTPS redirect: pure)."""


class SessionMiddleware(InlineHooks, sessions.SessionMiddleware):
    """Django's SessionMiddleware; I/O-free only with signed-cookie sessions (checked in tests)."""


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    """Django's CommonMiddleware (APPEND_SLASH resolves URLs in memory: pure)."""


class CsrfViewMiddleware(InlineHooks, csrf.CsrfViewMiddleware):
    """Django's CsrfViewMiddleware (the secret lives in a cookie: pure)."""


class AuthenticationMiddleware(InlineHooks, auth.AuthenticationMiddleware):
    """Django's AuthenticationMiddleware (request.user stays lazy: loaded in the view's thread)."""


class XFrameOptionsMiddleware(InlineHooks, clickjacking.XFrameOptionsMiddleware):
    """Django's XFrameOptionsMiddleware (one header: pure)."""
