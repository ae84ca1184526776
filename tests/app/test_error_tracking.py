"""Sentry: on only with a DSN, with the Django, Celery and Redis integrations, no personal data.

A real Django process (the app's settings) sends to a loopback receiver that speaks Sentry's
envelope endpoint; nothing is mocked but the Sentry server.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.app.conftest import APP_DIR, ROOT

pytestmark = pytest.mark.services
SCRIPT = """
import django, sentry_sdk
django.setup()
from django.conf import settings
client = sentry_sdk.get_client()
print("ACTIVE", client.is_active(), "PII", client.options.get("send_default_pii"))
sentry_sdk.set_user({"id": "42"})
try:
    1 / 0
except ZeroDivisionError:
    sentry_sdk.capture_exception()
sentry_sdk.flush(5)
"""


ASGI_SCRIPT = """
import asyncio, django, sentry_sdk
django.setup()
from django.test import override_settings
from config.asgi_handler import OneThreadHopASGIHandler

async def get(app, path):
    first = True
    async def receive():
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
    async def send(message):
        pass
    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
               "method": "GET", "scheme": "http", "path": "/boom", "raw_path": b"/boom",
               "query_string": path.encode(), "root_path": "",
               "headers": [(b"host", b"testserver"), (b"x-forwarded-proto", b"https")],
               "client": ("127.0.0.1", 50000),
               "server": ("127.0.0.1", 80)}, receive, send)

async def main():
    app = OneThreadHopASGIHandler()
    await get(app, "n=1")
    await get(app, "n=2")

with override_settings(ROOT_URLCONF="tests.app.asgi_handler_urls"):
    asyncio.run(main())
sentry_sdk.flush(5)
"""


class Receiver:
    """Collects the envelopes POSTed to /api/<project>/envelope/."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "br":
                    import brotli  # the SDK compresses with brotli when it is installed

                    body = brotli.decompress(body)
                receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dsn(self) -> str:
        """A DSN pointing at this receiver."""
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/7"

    def events(self) -> list[dict]:
        """The event items of every envelope (uncompressed JSON lines)."""
        events = []
        for body in self.bodies:
            lines = body.split(b"\n")
            for header, item in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    events.append(json.loads(item))
        return events


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A fresh receiver on loopback."""
    server = Receiver()
    try:
        yield server
    finally:
        server.server.shutdown()


def _django(app_env: dict[str, str], dsn: str) -> str:
    env = {**app_env, "SENTRY_DSN": dsn, "DJANGO_SETTINGS_MODULE": "config.settings.production"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=APP_DIR, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_without_a_dsn_nothing_is_initialised_or_sent(app_env, receiver: Receiver) -> None:
    assert "ACTIVE False" in _django(app_env, "")
    assert receiver.bodies == []


def test_with_a_dsn_errors_are_sent_with_the_integrations_and_no_pii(
        app_env, receiver: Receiver) -> None:
    output = _django(app_env, receiver.dsn)
    assert "ACTIVE True PII False" in output
    [event] = receiver.events()
    assert event["exception"]["values"][-1]["type"] == "ZeroDivisionError"
    integrations = set(event["sdk"]["integrations"])
    assert {"django", "celery", "redis"} <= integrations, integrations
    assert "ip_address" not in event.get("user", {})  # not filled in without send_default_pii


def test_each_request_through_the_asgi_handler_gets_its_own_sentry_scope(
        app_env, receiver: Receiver) -> None:
    # Sentry's Django integration wraps ASGIHandler.__call__ to give each request its own
    # scope; a handler that replaced __call__ would share one scope across requests.
    env = {**app_env, "SENTRY_DSN": receiver.dsn,
           "DJANGO_SETTINGS_MODULE": "config.settings.production", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", ASGI_SCRIPT], cwd=APP_DIR, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    events = receiver.events()
    assert len(events) == 2, events
    for event, marker in zip(events, ("marker 1", "marker 2"), strict=True):
        assert event["request"]["url"].endswith("/boom"), event.get("request")
        crumbs = [c.get("message") for c in event.get("breadcrumbs", {}).get("values", [])]
        assert marker in crumbs
        assert [c for c in crumbs if c and c.startswith("marker")] == [marker], crumbs
