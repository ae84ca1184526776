"""Read-your-writes across requests: after a write the client's reads stay on the primary."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from local.dataservices import DataServices
from tests.app.conftest import READ_YOUR_WRITES_SECONDS, WebServer, csrf_headers

pytestmark = pytest.mark.services



def _signup(client: httpx.Client, *, prefix: str) -> str:
    """Sign a new user up as a browser does (CSRF cookie and header); return the username."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    signup = client.post("/api/accounts/signup/", headers=csrf_headers(client),
                         json={"username": name, "email": f"{name}@x.io",
                               "password": "correct horse battery"})
    assert signup.status_code == 201, signup.text
    return name

def test_signup_then_me_sees_the_new_user_while_the_replica_lags(
    web: WebServer, dataservices: DataServices
) -> None:
    dataservices.wait_replica_caught_up()
    dataservices.pause_replay()
    try:
        with httpx.Client(base_url=web.url, timeout=10) as client:
            name = _signup(client, prefix="u")
            assert "q_rw" in client.cookies
            me = client.get("/api/accounts/me/")
            assert me.status_code == 200, me.text  # pinned: served by the primary
            assert me.json()["username"] == name
            assert me.headers["Cache-Control"] == "private, no-store"

            # Same session without the pin: the lagging replica does not know the user yet.
            session_only = {"sessionid": client.cookies["sessionid"]}
            with httpx.Client(base_url=web.url, timeout=10, cookies=session_only) as other:
                assert other.get("/api/accounts/me/").status_code == 401

            # The pin is the cookie's timestamp, checked by the server: once the window has
            # passed, the same cookie no longer pins (polled, with a generous ceiling).
            deadline = time.monotonic() + READ_YOUR_WRITES_SECONDS + 30
            while client.get("/api/accounts/me/").status_code != 401:
                assert time.monotonic() < deadline, "the read-your-writes window never closed"
                time.sleep(0.2)
            assert "q_rw" in client.cookies
    finally:
        dataservices.resume_replay()
    dataservices.wait_replica_caught_up()
    with httpx.Client(base_url=web.url, timeout=10, cookies=session_only) as other:
        assert other.get("/api/accounts/me/").status_code == 200


def _request_with_pin(value: str) -> object:
    from django.conf import settings
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.COOKIES[settings.READ_YOUR_WRITES_COOKIE] = value
    return request


def _signed(value: str, age: int = 0) -> str:
    from core.middleware import READ_YOUR_WRITES_SALT
    from django.conf import settings
    from django.core import signing

    salt = settings.READ_YOUR_WRITES_COOKIE + READ_YOUR_WRITES_SALT
    signer = signing.get_cookie_signer(salt=salt)
    signer.timestamp = lambda: signing.b62_encode(int(time.time()) - age)  # type: ignore[method-assign]
    return str(signer.sign(value))


def test_the_pin_cookie_is_signed_clamped_and_ignored_when_bad(django_app: None) -> None:
    from core.middleware import pinned_until
    from django.conf import settings

    now = time.time()
    window = settings.READ_YOUR_WRITES_SECONDS
    assert pinned_until(_request_with_pin(_signed(f"{now + 1:.3f}")), now=now) > now  # genuine
    assert pinned_until(_request_with_pin("1e300"), now=now) == 0.0  # unsigned: forged
    assert pinned_until(_request_with_pin(_signed("1e300")[:-2] + "xx"), now=now) == 0.0
    assert pinned_until(_request_with_pin(_signed("nan")), now=now) == 0.0
    # Even a correctly signed far-future value pins for one window at most.
    assert pinned_until(_request_with_pin(_signed("1e300")), now=now) <= now + window
    # A signed cookie older than the window (replayed) no longer pins.
    replayed = _signed(f"{now + 1e6:.3f}", age=window + 2)
    assert pinned_until(_request_with_pin(replayed), now=now) == 0.0


def test_a_forged_pin_cookie_does_not_reach_the_primary(
    web: WebServer, dataservices: DataServices
) -> None:
    dataservices.wait_replica_caught_up()
    dataservices.pause_replay()
    try:
        with httpx.Client(base_url=web.url, timeout=10) as client:
            _signup(client, prefix="f")
            genuine = client.cookies["q_rw"]
            assert ":" in genuine  # value:timestamp:signature
            session = client.cookies["sessionid"]
            with httpx.Client(base_url=web.url, timeout=10,
                              cookies={"sessionid": session, "q_rw": genuine}) as mine:
                assert mine.get("/api/accounts/me/").status_code == 200
            # Unsigned values that an unsigned cookie would have honoured forever.
            for forged in ("1e300", f"{time.time() + 3600:.3f}"):
                with httpx.Client(base_url=web.url, timeout=10,
                                  cookies={"sessionid": session, "q_rw": forged}) as other:
                    assert other.get("/api/accounts/me/").status_code == 401, forged
    finally:
        dataservices.resume_replay()
