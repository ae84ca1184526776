"""Webhooks: Standard Webhooks signatures (replays refused) and targets that cannot aim inward.

The deliveries run in this process against real loopback receivers. No test here ever sends a
packet beyond loopback, also with a check removed: the "inward" targets that could be reached
are 0.0.0.0 (which Linux delivers to loopback) and names that resolve to loopback.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytestmark = pytest.mark.services


class Receiver:
    """A loopback HTTP server recording each POST; answers from a script, else 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers.items()), "body": body,
                                          "path": self.path})
                status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        """The loopback port."""
        return int(self.server.server_address[1])

    def url(self, host: str = "127.0.0.1", path: str = "/hook") -> str:
        """A plain-HTTP URL of this receiver under `host`."""
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    """Two receivers: the endpoint and a canary that must stay untouched unless allowed."""
    endpoint, canary = Receiver(), Receiver()
    try:
        yield endpoint, canary
    finally:
        endpoint.close()
        canary.close()


@pytest.fixture
def local_mode(db_fresh: None) -> Iterator[None]:
    """WEBHOOKS_ALLOW_LOOPBACK on (as `make up` sets it)."""
    from django.test import override_settings

    with override_settings(WEBHOOKS_ALLOW_LOOPBACK=True):
        yield


def _deliver(url: str) -> tuple[Any, Any]:
    """Subscribe `url`, publish one event to it alone, attempt the delivery once."""
    from core.routing import pin_to_primary
    from notifications import services
    from notifications.models import WebhookDelivery

    endpoint = services.webhook_endpoint_create(url=url)
    delivery = WebhookDelivery.objects.create(
        dedupe_key=f"test:{uuid.uuid4()}:{endpoint.pk}", endpoint=endpoint, event="test.event",
        payload={"n": 1})
    services.webhook_delivery_attempt(delivery_id=delivery.pk)
    with pin_to_primary():
        delivery.refresh_from_db()
    return endpoint, delivery


def test_deliveries_are_signed_and_a_late_replay_is_refused(
    local_mode: None, receivers: tuple[Receiver, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    from standardwebhooks import webhooks
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    endpoint_receiver, _ = receivers
    endpoint, delivery = _deliver(endpoint_receiver.url())
    assert delivery.status == "sent", delivery.last_error
    [captured] = endpoint_receiver.requests
    headers, body = captured["headers"], captured["body"]
    assert headers["webhook-id"] == delivery.dedupe_key
    verifier = Webhook(endpoint.secret)
    assert verifier.verify(body, headers) == {"event": "test.event", "data": {"n": 1}}

    tampered = body.replace(b'"n": 1', b'"n": 2')
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verifier.verify(tampered, headers)

    class SixMinutesLater(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return datetime.now(tz) + timedelta(minutes=6)

    # The receiver's clock six minutes later: the captured delivery, replayed as it was, is
    # outside the reference verifier's tolerance (5 minutes) ...
    monkeypatch.setattr(webhooks, "datetime", SixMinutesLater)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verifier.verify(body, headers)
    # ... and with its timestamp moved forward it no longer matches its signature.
    fresh = str(int((datetime.now(UTC) + timedelta(minutes=6)).timestamp()))
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verifier.verify(body, {**headers, "webhook-timestamp": fresh})


REFUSED_EVERYWHERE = [
    "https://10.0.0.5/hook", "https://172.16.3.4/hook", "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/", "https://[fd00:ec2::254]/",
    "https://100.64.0.1/", "https://0.0.0.0/", "https://[::ffff:10.0.0.1]/",
    "https://[fe80::1]/", "https://224.0.0.1/", "https://user:pw@8.8.8.8/", "ftp://8.8.8.8/",
    "https:///nohost", "https://8.8.8.8:99999/",
]


@pytest.mark.parametrize("url", REFUSED_EVERYWHERE)
def test_private_link_local_and_metadata_targets_are_refused(local_mode: None, url: str) -> None:
    from notifications.webhook_targets import WebhookTargetRefused, webhook_target_check

    with pytest.raises(WebhookTargetRefused):
        webhook_target_check(url=url)


def test_loopback_and_plain_http_only_in_local_mode(db_fresh: None) -> None:
    from django.test import override_settings
    from notifications.services import webhook_endpoint_create
    from notifications.webhook_targets import WebhookTargetRefused, webhook_target_check

    assert webhook_target_check(url="https://8.8.8.8/hook").host == "8.8.8.8"  # no connection
    for url in ("http://8.8.8.8/hook", "https://127.0.0.1/hook", "https://[::1]/hook",
                "https://localhost/hook"):  # localhost: refused for what it resolves to
        with pytest.raises(WebhookTargetRefused):
            webhook_target_check(url=url)
    with pytest.raises(WebhookTargetRefused):
        webhook_endpoint_create(url="https://169.254.169.254/")
    with override_settings(WEBHOOKS_ALLOW_LOOPBACK=True):
        assert webhook_target_check(url="http://localhost:9/hook").port == 9
        assert str(webhook_target_check(url="http://127.0.0.1:9/").address) == "127.0.0.1"
        with pytest.raises(WebhookTargetRefused):
            webhook_target_check(url="http://10.0.0.1/")


def test_redirects_are_checked_like_the_endpoint(
    local_mode: None, receivers: tuple[Receiver, Receiver]
) -> None:
    endpoint_receiver, canary = receivers
    # 0.0.0.0 is not loopback to the check, but Linux connects it to loopback: the canary.
    endpoint_receiver.script.append((307, {"Location": canary.url("0.0.0.0")}))
    _, inward = _deliver(endpoint_receiver.url())
    assert inward.status == "failed" and "target refused" in inward.last_error
    assert canary.requests == []

    endpoint_receiver.script.append((302, {"Location": canary.url()}))
    _, changed_method = _deliver(endpoint_receiver.url())
    assert changed_method.status == "failed" and "302" in changed_method.last_error
    assert canary.requests == []

    endpoint_receiver.script.append((308, {"Location": canary.url(path="/moved")}))
    _, moved = _deliver(endpoint_receiver.url())
    assert moved.status == "sent", moved.last_error
    assert [r["path"] for r in canary.requests] == ["/moved"]
    assert canary.requests[0]["headers"]["webhook-id"] == moved.dedupe_key


def test_every_delivery_checks_its_target_again(
    local_mode: None, receivers: tuple[Receiver, Receiver]
) -> None:
    from django.test import override_settings
    from notifications import services
    from notifications.models import WebhookDelivery

    _, canary = receivers
    endpoint = services.webhook_endpoint_create(url=canary.url("localhost"))
    delivery = WebhookDelivery.objects.create(
        dedupe_key=f"recheck:{uuid.uuid4()}", endpoint=endpoint, event="e", payload={})
    endpoint.active = False
    endpoint.save(update_fields=["active"])
    with override_settings(WEBHOOKS_ALLOW_LOOPBACK=False):  # what `localhost` means changed
        assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is False
    assert canary.requests == []
