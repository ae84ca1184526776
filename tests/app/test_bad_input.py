"""Bad input to the JSON APIs is a 4xx naming what is wrong, never a 500 (examples + property)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.app.conftest import UPLOADS_MAX_BYTES, Principals, WebServer

pytestmark = pytest.mark.services
JSON_HEADERS = {"Content-Type": "application/json"}


def _post(web: WebServer, path: str, body: bytes, headers: dict[str, str],
          method: str = "POST") -> httpx.Response:
    return httpx.request(method, f"{web.url}{path}", content=body,
                         headers={**JSON_HEADERS, **headers}, timeout=30)


def _order(web: WebServer, principals: Principals, body: bytes,
           content_type: str = "application/json") -> httpx.Response:
    return _post(web, "/api/checkout/orders/", body, {
        **Principals.headers(principals.customer), "Content-Type": content_type,
        "Idempotency-Key": f"bad-{uuid.uuid4()}"})


def _fields(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    return dict(response.json()["fields"])


def test_orders_name_the_bad_field(web: WebServer, principals: Principals) -> None:
    huge = _order(web, principals, b'{"email": "a@b.io", "amount_cents": 1e999}')
    assert "amount_cents" in _fields(huge)
    beyond = _order(web, principals, json.dumps({"email": "a@b.io",
                                                 "amount_cents": 2**31}).encode())
    assert "less than or equal to 2147483647" in _fields(beyond)["amount_cents"][0]
    long_email = "a" * 250 + "@b.io"
    overlong = _order(web, principals, json.dumps({"email": long_email,
                                                   "amount_cents": 1}).encode())
    assert "email" in _fields(overlong)
    invalid = _order(web, principals, b'{"email": ')
    assert invalid.status_code == 400
    assert invalid.json() == {"error": "the request body is not valid JSON"}
    form = _order(web, principals, b"email=a@b.io&amount_cents=1",
                  content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415 and "application/json" in form.json()["error"]


def test_articles_and_signup_name_the_bad_field(web: WebServer, principals: Principals) -> None:
    editor = Principals.headers(principals.editor)
    article = _post(web, "/api/articles/", json.dumps(
        {"section": "x" * 51, "title": "t" * 201, "body": "nul\x00byte"}).encode(), editor)
    assert set(_fields(article)) == {"section", "title", "body"}
    signup = _post(web, "/api/accounts/signup/", json.dumps(
        {"username": "u" * 151, "email": "e" * 250 + "@x.io", "password": "x"}).encode(), {})
    assert set(_fields(signup)) == {"username", "email"}
    weak = _post(web, "/api/accounts/signup/", json.dumps(
        {"username": "weak", "email": "weak@x.io", "password": "12345678901"}).encode(), {})
    assert "entirely numeric" in " ".join(_fields(weak)["password"])
    prepare = _post(web, "/api/checkout/prepare/", b'{"email": "a@b.io", "amount_cents": 1e999}',
                    {})
    assert "amount_cents" in _fields(prepare)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner,
                                                                 max_size=4),
    max_leaves=12,
)
# Plausible values per field, so that many requests pass one check and reach the next one,
# the service and the database (where a missing bound would become a 500).
TEXT = st.text(max_size=300)
FIELD_VALUES = {
    "email": st.emails(),
    "amount_cents": st.integers() | st.integers(min_value=2**31 - 5, max_value=2**70),
    "section": st.from_regex(r"\A[a-z0-9-]{1,80}\Z") | TEXT,
    "title": TEXT, "body": TEXT, "username": st.from_regex(r"\A[\w.@+-]{1,200}\Z") | TEXT,
    "password": TEXT, "display_name": TEXT,
    "content_type": st.sampled_from(["image/png", "text/plain", "text/html"]) | TEXT,
    # Around the allowed maximum, and past what a bigint column holds.
    "size": st.integers() | st.integers(UPLOADS_MAX_BYTES - 2, UPLOADS_MAX_BYTES + 2)
    | st.integers(2**63 - 2, 2**70),
    "key": st.from_regex(r"\Auploads/[0-9]{1,6}/[0-9a-f-]{1,40}\Z") | TEXT,
}
ENDPOINTS = {
    "order": ("/api/checkout/orders/", ("email", "amount_cents")),
    "article": ("/api/articles/", ("section", "title", "body")),
    "signup": ("/api/accounts/signup/", ("username", "email", "password", "display_name")),
    "prepare": ("/api/checkout/prepare/", ("email", "amount_cents")),
    "token": ("/api/accounts/tokens/", ("username", "password")),
    "upload-request": ("/api/uploads/", ("content_type", "size")),
    "upload-confirm": ("/api/uploads/confirm/", ("key",)),
}
AUTHENTICATED = ("order", "article", "upload-request", "upload-confirm")
SEEDS: dict[str, list[tuple[bytes, str, str]]] = {
    # Always tried first: a size past what a bigint column holds once reached the database.
    "upload-request": [(json.dumps({"content_type": "image/png", "size": 2**70}).encode(),
                        "application/json", "seed")],
}
"""Inputs every run tries besides the random ones (cases that once made a 500)."""
CONTENT_TYPES = ["application/json"] * 3 + ["application/json; charset=utf-8", "text/plain",
                                             "application/x-www-form-urlencoded", ""]


@st.composite
def _requests(draw: st.DrawFn, fields: tuple[str, ...]) -> tuple[bytes, str, str]:
    body_kind = draw(st.sampled_from(["fields"] * 3 + ["any-json", "bytes"]))
    if body_kind == "fields":
        value: Any = {f: draw(FIELD_VALUES[f] if draw(st.integers(0, 4)) else JSON_VALUES)
                      for f in fields if draw(st.integers(0, 5))}
        body = json.dumps(value).encode()
    elif body_kind == "any-json":
        body = json.dumps(draw(JSON_VALUES)).encode()
    else:
        body = draw(st.binary(max_size=200))
    # Any header value HTTP allows (visible ASCII, spaces inside, obs-text bytes).
    key = draw(st.uuids().map(str) | st.uuids().map(str) | st.text(
        st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=220).map(str.strip))
    return body, draw(st.sampled_from(CONTENT_TYPES)), key


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_no_input_makes_a_json_api_answer_500(
    web: WebServer, principals: Principals, name: str
) -> None:
    path, fields = ENDPOINTS[name]
    token = principals.editor if name == "article" else principals.customer

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(request=_requests(fields))
    def post_anything(request: tuple[bytes, str, str]) -> None:
        body, content_type, key = request
        headers: dict[str, str | bytes] = {"Content-Type": content_type,
                                           "Idempotency-Key": key.encode("latin-1")}
        if name in AUTHENTICATED:
            headers.update(Principals.headers(token))
        response = httpx.post(f"{web.url}{path}", content=body, headers=headers, timeout=30)
        assert response.status_code < 500, (name, body, content_type, response.text)
        assert response.headers["Content-Type"].startswith("application/json"), response.text
        if response.status_code >= 400:
            assert "Traceback" not in response.text and response.json()["error"]

    for seed in SEEDS.get(name, []):
        post_anything = example(request=seed)(post_anything)
    post_anything()
