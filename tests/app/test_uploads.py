"""Uploads: presigned POST straight to S3 (moto's server), confirmation by HEAD, cleanup.

The app runs under uvicorn against the real data services; the bucket is moto's S3 server on
loopback. moto does not enforce a POST policy, so the oversized and wrong-type objects reach
the bucket and the app's own confirmation check is what refuses them.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from local.dataservices import DataServices
from local.s3server import LOCAL_BUCKET, ThreadedS3, s3_client
from tests.app.conftest import UPLOADS_MAX_BYTES, Principals, WebServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


@contextmanager
def signed_in(web: WebServer, dataservices: DataServices) -> Iterator[httpx.Client]:
    """A client with a new account's session and a double-submit CSRF token."""
    token = secrets.token_hex(16)  # 32 characters, as Django's CSRF secret
    with httpx.Client(base_url=web.url, timeout=30, headers={"X-CSRFToken": token}) as client:
        client.cookies.set("csrftoken", token, domain="127.0.0.1")
        name = f"up{uuid.uuid4().hex[:10]}"
        signup = client.post("/api/accounts/signup/", json={
            "username": name, "email": f"{name}@x.io", "password": "correct horse battery"})
        assert signup.status_code == 201, signup.text
        # Signing in rotates the CSRF secret (a new csrftoken cookie): send that one.
        client.headers["X-CSRFToken"] = client.cookies.get("csrftoken", domain="127.0.0.1")
        # Past the read-your-writes window a lagging replica may not know the user yet: wait
        # until it has replayed the sign-up, so every request of the test is signed in.
        dataservices.wait_replica_caught_up()
        yield client


@pytest.fixture
def client(web: WebServer, dataservices: DataServices) -> Iterator[httpx.Client]:
    with signed_in(web, dataservices) as c:
        yield c


def presign(client: httpx.Client, content_type: str = "image/png", size: int = len(PNG),
            headers: dict[str, str] | None = None) -> dict:
    answer = client.post("/api/uploads/", json={"content_type": content_type, "size": size},
                         headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def confirm(client: httpx.Client, issued: dict, headers: dict[str, str] | None = None
            ) -> httpx.Response:
    return client.post("/api/uploads/confirm/", json={"key": issued["fields"]["key"]},
                       headers=headers)


def post_to_s3(issued: dict, body: bytes, content_type: str | None = None) -> httpx.Response:
    """The client's direct upload: a multipart POST of the issued fields and the file."""
    fields = dict(issued["fields"])
    if content_type is not None:
        fields["Content-Type"] = content_type
    return httpx.post(issued["url"], data=fields, files={"file": ("f", body)}, timeout=30)


def field_error(response: httpx.Response, field: str, status: int = 400) -> str:
    """The message the answer gives for ``field`` (asserting the status and the shape)."""
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    return " ".join(response.json()["fields"][field])


def test_a_file_goes_through_a_presigned_post_is_confirmed_and_read_back(
    client: httpx.Client, s3_server: ThreadedS3
) -> None:
    issued = presign(client)
    started = time.perf_counter()
    uploaded = post_to_s3(issued, PNG)
    upload_seconds = time.perf_counter() - started
    assert uploaded.status_code in (200, 201, 204), uploaded.text
    started = time.perf_counter()
    confirmed = confirm(client, issued)
    confirm_seconds = time.perf_counter() - started
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["status"] == "confirmed"
    assert body["size"] == len(PNG)
    user_id = client.get("/api/accounts/me/").json()["id"]
    assert body["key"] == f"uploads/{user_id}/{issued['id']}"
    content = client.get(f"/api/uploads/{issued['id']}/content/",
                         headers={"Accept": "image/png"})
    assert content.status_code == 200
    assert content.content == PNG
    assert content.headers["Content-Type"] == "image/png"
    print(f"\nupload via presigned POST {upload_seconds * 1000:.1f} ms, "
          f"confirmation {confirm_seconds * 1000:.1f} ms")


def test_an_api_client_uploads_with_its_token_and_no_csrf(
    web: WebServer, principals: Principals
) -> None:
    token = Principals.headers(principals.editor)
    with httpx.Client(base_url=web.url, timeout=30, headers=token) as api:
        issued = presign(api, "text/plain", 5)
        assert post_to_s3(issued, b"hello").status_code in (200, 201, 204)
        confirmed = confirm(api, issued)
        assert confirmed.status_code == 200, confirmed.text
        assert api.get(f"/api/uploads/{issued['id']}/content/").content == b"hello"


def test_the_presigned_policy_limits_key_type_and_size(client: httpx.Client) -> None:
    issued = presign(client, "application/pdf", 1234)
    policy = json.loads(base64.b64decode(issued["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1234, 1234] in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"key": issued["fields"]["key"]} in conditions
    assert issued["fields"]["key"].startswith("uploads/")
    assert issued["fields"]["key"].endswith(issued["id"])


def test_an_oversized_object_is_refused_on_confirmation(client: httpx.Client) -> None:
    issued = presign(client, size=UPLOADS_MAX_BYTES)
    too_big = PNG + b"\x00" * UPLOADS_MAX_BYTES
    # The emulator lets it in: the POST policy is not enforced locally.
    assert post_to_s3(issued, too_big).status_code in (200, 201, 204)
    refused = confirm(client, issued)
    assert field_error(refused, "size", 422) == refused.json()["error"] == (
        f"the object is {len(too_big)} bytes; it was declared as {UPLOADS_MAX_BYTES} bytes "
        f"(allowed: 1 to {UPLOADS_MAX_BYTES} bytes)")
    assert client.get(f"/api/uploads/{issued['id']}/content/").status_code == 404
    # Refused for good: confirming again does not record it.
    again = confirm(client, issued)
    assert field_error(again, "key") == "this upload is rejected; request a new one"


def test_an_object_larger_than_declared_is_refused_even_under_the_maximum(
    client: httpx.Client,
) -> None:
    issued = presign(client, size=len(PNG))
    assert post_to_s3(issued, PNG + b"more").status_code in (200, 201, 204)
    refused = confirm(client, issued)
    assert f"declared as {len(PNG)} bytes" in field_error(refused, "size", 422)


def test_an_object_of_another_content_type_is_refused_on_confirmation(
    client: httpx.Client,
) -> None:
    script = b"<script>alert(1)</script>"
    issued = presign(client, "image/png", len(script))
    assert post_to_s3(issued, script, "text/html").status_code in (200, 201, 204)
    refused = confirm(client, issued)
    message = field_error(refused, "content_type", 422)
    assert "'text/html'" in message and "'image/png'" in message


def test_asking_names_the_bad_field_and_what_is_allowed(client: httpx.Client) -> None:
    def ask(body: object) -> httpx.Response:
        return client.post("/api/uploads/", json=body)

    assert field_error(ask({"content_type": "text/html", "size": 10}), "content_type") == (
        "content_type 'text/html' is not allowed; allowed: "
        "image/png, image/jpeg, application/pdf, text/plain")
    for size in (0, -1, UPLOADS_MAX_BYTES + 1, 2**70):
        assert field_error(ask({"content_type": "image/png", "size": size}), "size") == (
            f"size {size} is out of range; allowed: 1 to {UPLOADS_MAX_BYTES} bytes")
    for size in ("ten", 1.5, None, [1]):
        assert field_error(ask({"content_type": "image/png", "size": size}), "size")
    assert set(ask({}).json()["fields"]) == {"content_type", "size"}
    assert field_error(ask({"content_type": 7, "size": 1}), "content_type")
    bad_json = client.post("/api/uploads/", content=b'{"content_type": ',
                           headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert bad_json.json() == {"error": "the request body is not valid JSON"}
    form = client.post("/api/uploads/", data={"content_type": "image/png", "size": "1"})
    assert form.status_code == 415 and "application/json" in form.json()["error"]


def test_confirming_names_an_unknown_key(client: httpx.Client) -> None:
    user_id = client.get("/api/accounts/me/").json()["id"]
    for key in (f"uploads/{user_id}/{uuid.uuid4()}", "../../etc/passwd", "k" * 255):
        answer = client.post("/api/uploads/confirm/", json={"key": key})
        assert field_error(answer, "key") == "no upload with this key was issued to you"
    assert field_error(client.post("/api/uploads/confirm/", json={"key": "k" * 256}), "key")
    assert field_error(client.post("/api/uploads/confirm/", json={}), "key")
    assert field_error(client.post("/api/uploads/confirm/", json={"key": ["a"]}), "key")
    empty = client.post("/api/uploads/confirm/")
    assert empty.status_code == 415 and "application/json" in empty.json()["error"]


def test_confirming_before_the_file_arrived_says_so(client: httpx.Client) -> None:
    issued = presign(client)
    answer = confirm(client, issued)
    assert field_error(answer, "key", 409) == (
        "the file has not arrived in the bucket; POST it first")


def test_another_principal_cannot_confirm_or_read_an_upload(
    client: httpx.Client, web: WebServer, dataservices: DataServices, principals: Principals
) -> None:
    issued = presign(client)
    assert post_to_s3(issued, PNG).status_code in (200, 201, 204)
    other_customer = Principals.headers(principals.other_customer)
    with httpx.Client(base_url=web.url, timeout=30, headers=other_customer) as other:
        stolen = confirm(other, issued)
        assert field_error(stolen, "key") == "no upload with this key was issued to you"
    with signed_in(web, dataservices) as other_browser:
        assert field_error(confirm(other_browser, issued), "key")
    assert confirm(client, issued).status_code == 200
    for headers in (other_customer, Principals.headers(principals.editor)):
        read = httpx.get(f"{web.url}/api/uploads/{issued['id']}/content/", headers=headers)
        assert read.status_code == 404, read.text
        assert read.json() == {"error": "no confirmed upload with this id is yours"}
    with signed_in(web, dataservices) as other_browser:
        assert other_browser.get(f"/api/uploads/{issued['id']}/content/").status_code == 404


def test_uploads_need_a_principal_with_the_upload_permission_and_csrf(
    web: WebServer, principals: Principals, client: httpx.Client
) -> None:
    body = {"content_type": "image/png", "size": 10}
    anonymous = httpx.post(f"{web.url}/api/uploads/", json=body)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Token"
    assert httpx.post(f"{web.url}/api/uploads/confirm/", json={"key": "k"}).status_code == 401
    assert httpx.get(f"{web.url}/api/uploads/{uuid.uuid4()}/content/").status_code == 401
    nobody = Principals.headers(principals.nobody)
    for path, payload in (("/api/uploads/", body), ("/api/uploads/confirm/", {"key": "k"})):
        refused = httpx.post(f"{web.url}{path}", json=payload, headers=nobody)
        assert refused.status_code == 403, refused.text
        assert "uploads.add_upload" in refused.json()["error"]
    # A browser's session writes only with its CSRF token.
    no_csrf = client.post("/api/uploads/", json=body, headers={"X-CSRFToken": ""})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["error"]


def test_the_sweep_removes_unconfirmed_and_refused_uploads(
    client: httpx.Client, s3_server: ThreadedS3, db_fresh: None
) -> None:
    from datetime import timedelta

    from django.utils import timezone
    from uploads.models import Upload
    from uploads.tasks import upload_cleanup

    stale, refused, fresh, kept = (presign(client), presign(client), presign(client),
                                   presign(client))
    for issued in (stale, refused, fresh, kept):
        assert post_to_s3(issued, PNG if issued is not refused else PNG * 40).status_code in (
            200, 201, 204)
    assert confirm(client, refused).status_code == 422
    assert confirm(client, kept).status_code == 200
    two_hours_ago = timezone.now() - timedelta(hours=2)
    # An old confirmed upload is as old as the stale one: its age alone must never doom it.
    Upload.objects.filter(id__in=[stale["id"], kept["id"]]).update(created_at=two_hours_ago)

    upload_cleanup.apply().get()

    s3 = s3_client(s3_server.url)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=LOCAL_BUCKET).get("Contents", [])}
    assert stale["fields"]["key"] not in keys
    assert refused["fields"]["key"] not in keys
    assert fresh["fields"]["key"] in keys and kept["fields"]["key"] in keys
    statuses = dict(Upload.objects.using("default").filter(
        id__in=[stale["id"], refused["id"], fresh["id"], kept["id"]]).values_list("id", "status"))
    assert statuses == {uuid.UUID(stale["id"]): "expired", uuid.UUID(refused["id"]): "expired",
                        uuid.UUID(fresh["id"]): "pending", uuid.UUID(kept["id"]): "confirmed"}


def test_an_upload_past_its_window_is_never_confirmed(
    client: httpx.Client, s3_server: ThreadedS3, db_fresh: None
) -> None:
    from datetime import timedelta

    from django.utils import timezone
    from uploads.models import Upload

    late = presign(client)
    assert post_to_s3(late, PNG).status_code in (200, 201, 204)
    # The sweep may be deleting this object now: confirming it would record a file that is gone.
    Upload.objects.filter(id=late["id"]).update(created_at=timezone.now() - timedelta(hours=2))
    refused = confirm(client, late)
    assert refused.status_code == 400, refused.text
    assert "not confirmed in time" in refused.json()["fields"]["key"][0], refused.text


def test_the_sweep_is_on_the_beat_schedule(django_app: None) -> None:
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["uploads-cleanup"]
    assert entry["task"] == "uploads.tasks.upload_cleanup"
    assert settings.CELERY_TASK_ROUTES[entry["task"]]["queue"] == "low"


def test_in_aws_the_presigned_post_names_the_regional_virtual_host(django_app: None) -> None:
    import copy

    from django.conf import settings
    from django.test import override_settings
    from uploads.storage import s3_client as app_s3_client

    storages = copy.deepcopy(settings.STORAGES)
    storages["uploads"]["OPTIONS"] |= {"endpoint_url": None, "region_name": "eu-west-2",
                                       "access_key": "AKIAEXAMPLE", "secret_key": "example"}
    app_s3_client.cache_clear()
    try:
        with override_settings(STORAGES=storages):
            # Presigning is local: no request leaves the process.
            post = app_s3_client().generate_presigned_post("quintet-prod-uploads", "uploads/k")
    finally:
        app_s3_client.cache_clear()
    # Not the global s3.amazonaws.com: a new bucket outside us-east-1 answers it with 307s.
    assert post["url"] == "https://quintet-prod-uploads.s3.eu-west-2.amazonaws.com/"
