"""Read-your-writes across requests: after a write the client's reads stay on the primary."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from local.dataservices import DataServices
from tests.app.conftest import READ_YOUR_WRITES_SECONDS, WebServer

pytestmark = pytest.mark.services


def test_signup_then_me_sees_the_new_user_while_the_replica_lags(
    web: WebServer, dataservices: DataServices
) -> None:
    dataservices.wait_replica_caught_up()
    dataservices.pause_replay()
    try:
        with httpx.Client(base_url=web.url, timeout=10) as client:
            name = f"u{uuid.uuid4().hex[:10]}"
            signup = client.post("/api/accounts/signup/",
                                 json={"username": name, "email": f"{name}@x.io",
                                       "password": "correct horse battery"})
            assert signup.status_code == 201, signup.text
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
