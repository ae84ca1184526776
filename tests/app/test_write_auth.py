"""Who may write: tokens or sessions with CSRF, editors publish, customers order, no login CSRF."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.app.conftest import Principals, WebServer, csrf_headers

pytestmark = pytest.mark.services
ARTICLE = {"section": "auth", "title": "Who may write", "body": "editors only"}
ORDER = {"email": "buyer@example.com", "amount_cents": 1200}
PASSWORD = "a long enough passphrase"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"auth-{uuid.uuid4()}"}


def _signup_body() -> dict[str, str]:
    name = f"u{uuid.uuid4().hex[:12]}"
    return {"username": name, "email": f"{name}@example.com", "password": PASSWORD}


def test_publishing_and_editing_need_an_editor(web: WebServer, principals: Principals) -> None:
    url = f"{web.url}/api/articles/"
    anonymous = httpx.post(url, json=ARTICLE)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Token"
    forged = httpx.post(url, json=ARTICLE, headers={"Authorization": "Token not-a-token"})
    assert forged.status_code == 401
    for token in (principals.customer, principals.nobody):
        refused = httpx.post(url, json=ARTICLE, headers=Principals.headers(token))
        assert refused.status_code == 403, refused.text
        assert "content.add_article" in refused.json()["error"]
    created = httpx.post(url, json=ARTICLE, headers=Principals.headers(principals.editor))
    assert created.status_code == 201, created.text
    edit_url = f"{url}{created.json()['slug']}/"
    assert httpx.patch(edit_url, json={"title": "x"}).status_code == 401
    assert httpx.patch(edit_url, json={"title": "x"},
                       headers=Principals.headers(principals.customer)).status_code == 403
    assert httpx.patch(edit_url, json={"title": "Edited"},
                       headers=Principals.headers(principals.editor)).status_code == 200


def test_ordering_needs_a_customer(web: WebServer, principals: Principals) -> None:
    url = f"{web.url}/api/checkout/orders/"
    assert httpx.post(url, json=ORDER, headers=_key()).status_code == 401
    editor = httpx.post(url, json=ORDER,
                        headers={**_key(), **Principals.headers(principals.editor)})
    assert editor.status_code == 403 and "checkout.add_order" in editor.json()["error"]
    customer = httpx.post(url, json=ORDER,
                          headers={**_key(), **Principals.headers(principals.customer)})
    assert customer.status_code == 201, customer.text


def test_reads_stay_anonymous_and_cacheable(web: WebServer) -> None:
    page = httpx.get(f"{web.url}/")
    assert page.status_code == 200 and "public" in page.headers["Cache-Control"]
    assert "set-cookie" not in page.headers


def test_a_browser_signs_up_with_csrf_and_its_session_writes_only_with_csrf(
    web: WebServer,
) -> None:
    with httpx.Client(base_url=web.url, timeout=30) as browser:
        csrf = csrf_headers(browser)
        signup = browser.post("/api/accounts/signup/", json=_signup_body(), headers=csrf)
        assert signup.status_code == 201, signup.text
        assert signup.json()["session"] is True and "token" not in signup.json()
        assert "sessionid" in browser.cookies
        # The session alone is not enough to write: DRF enforces CSRF for session users.
        no_csrf = browser.post("/api/checkout/orders/", json=ORDER, headers=_key())
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["error"]
        ordered = browser.post("/api/checkout/orders/", json=ORDER,
                               headers={**_key(), **csrf_headers(browser)})
        assert ordered.status_code == 201, ordered.text


def test_a_signup_without_csrf_starts_no_session(web: WebServer) -> None:
    # A cross-site request carries no valid CSRF token: it may create an account (anyone can),
    # but it must not sign the browser in to it (login CSRF). It gets a token in the body,
    # which a cross-site page cannot read.
    with httpx.Client(base_url=web.url, timeout=30) as victim:
        victim.get("/api/accounts/csrf/")  # the victim's own csrftoken cookie is present
        signup = victim.post("/api/accounts/signup/", json=_signup_body(),
                             headers={"Origin": "https://evil.example"})
        assert signup.status_code == 201, signup.text
        assert signup.json()["session"] is False
        assert "sessionid" not in victim.cookies
        assert victim.get("/api/accounts/me/").status_code == 401
        token = signup.json()["token"]
    ordered = httpx.post(f"{web.url}/api/checkout/orders/", json=ORDER,
                         headers={**_key(), **Principals.headers(token)})
    assert ordered.status_code == 201, ordered.text


def test_signup_refuses_a_form_post(web: WebServer) -> None:
    body = _signup_body()
    form = httpx.post(f"{web.url}/api/accounts/signup/", data=body)
    assert form.status_code == 415
    plain = httpx.post(f"{web.url}/api/accounts/signup/", content=str(body).encode(),
                       headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    token = httpx.post(f"{web.url}/api/accounts/tokens/",
                       json={"username": body["username"], "password": PASSWORD})
    assert token.status_code == 401  # no account was made


def test_session_sign_in_needs_csrf(web: WebServer, principals: Principals) -> None:
    body = _signup_body()
    created = httpx.post(f"{web.url}/api/accounts/signup/", json=body)
    assert created.status_code == 201
    credentials = {"username": body["username"], "password": PASSWORD}
    with httpx.Client(base_url=web.url, timeout=30) as browser:
        browser.get("/api/accounts/csrf/")
        refused = browser.post("/api/accounts/session/", json=credentials)
        assert refused.status_code == 403 and "sessionid" not in browser.cookies
        wrong = browser.post("/api/accounts/session/", headers=csrf_headers(browser),
                             json={**credentials, "password": "wrong password here"})
        assert wrong.status_code == 401
        signed_in = browser.post("/api/accounts/session/", headers=csrf_headers(browser),
                                 json=credentials)
        assert signed_in.status_code == 200 and "sessionid" in browser.cookies


def test_an_api_client_gets_a_token_with_its_password(web: WebServer) -> None:
    body = _signup_body()
    assert httpx.post(f"{web.url}/api/accounts/signup/", json=body).status_code == 201
    issued = httpx.post(f"{web.url}/api/accounts/tokens/",
                        json={"username": body["username"], "password": PASSWORD})
    assert issued.status_code == 201 and "sessionid" not in issued.cookies
    ordered = httpx.post(f"{web.url}/api/checkout/orders/", json=ORDER,
                         headers={**_key(), **Principals.headers(issued.json()["token"])})
    assert ordered.status_code == 201, ordered.text

