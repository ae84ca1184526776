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
from tests.app.conftest import UPLOADS_MAX_BYTES, WebServer

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


def presign(client: httpx.Client, content_type: str = "image/png") -> dict:
    answer = client.post("/api/uploads/", json={"content_type": content_type})
    assert answer.status_code == 201, answer.text
    return answer.json()


def post_to_s3(issued: dict, body: bytes, content_type: str | None = None) -> httpx.Response:
    """The client's direct upload: a multipart POST of the issued fields and the file."""
    fields = dict(issued["fields"])
    if content_type is not None:
        fields["Content-Type"] = content_type
    return httpx.post(issued["url"], data=fields, files={"file": ("f", body)}, timeout=30)


def test_a_file_goes_through_a_presigned_post_is_confirmed_and_read_back(
    client: httpx.Client, s3_server: ThreadedS3
) -> None:
    issued = presign(client)
    started = time.perf_counter()
    uploaded = post_to_s3(issued, PNG)
    upload_seconds = time.perf_counter() - started
    assert uploaded.status_code in (200, 201, 204), uploaded.text
    started = time.perf_counter()
    confirmed = client.post(f"/api/uploads/{issued['id']}/confirm/")
    confirm_seconds = time.perf_counter() - started
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["status"] == "confirmed"
    assert body["size"] == len(PNG)
    user_id = client.get("/api/accounts/me/").json()["id"]
    assert body["key"] == f"uploads/{user_id}/{issued['id']}"
    content = client.get(f"/api/uploads/{issued['id']}/content/")
    assert content.status_code == 200
    assert content.content == PNG
    assert content.headers["Content-Type"] == "image/png"
    print(f"\nupload via presigned POST {upload_seconds * 1000:.1f} ms, "
          f"confirmation {confirm_seconds * 1000:.1f} ms")


def test_the_presigned_policy_limits_key_type_and_size(client: httpx.Client) -> None:
    issued = presign(client, "application/pdf")
    policy = json.loads(base64.b64decode(issued["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, UPLOADS_MAX_BYTES] in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"key": issued["fields"]["key"]} in conditions
    assert issued["fields"]["key"].startswith("uploads/")
    assert issued["fields"]["key"].endswith(issued["id"])


def test_an_oversized_object_is_refused_on_confirmation(client: httpx.Client) -> None:
    issued = presign(client)
    too_big = PNG + b"\x00" * UPLOADS_MAX_BYTES
    # The emulator lets it in: the POST policy is not enforced locally.
    assert post_to_s3(issued, too_big).status_code in (200, 201, 204)
    refused = client.post(f"/api/uploads/{issued['id']}/confirm/")
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == (
        f"the object is {len(too_big)} bytes; allowed: 1 to {UPLOADS_MAX_BYTES} bytes")
    assert client.get(f"/api/uploads/{issued['id']}/content/").status_code == 404
    # Refused for good: confirming again does not record it.
    assert client.post(f"/api/uploads/{issued['id']}/confirm/").status_code == 404


def test_an_object_of_another_content_type_is_refused_on_confirmation(
    client: httpx.Client,
) -> None:
    issued = presign(client, "image/png")
    assert post_to_s3(issued, b"<script>alert(1)</script>", "text/html").status_code in (
        200, 201, 204)
    refused = client.post(f"/api/uploads/{issued['id']}/confirm/")
    assert refused.status_code == 422, refused.text
    assert "'text/html'" in refused.json()["error"]
    assert "'image/png'" in refused.json()["error"]


def test_a_content_type_outside_the_list_is_refused_when_asking(client: httpx.Client) -> None:
    answer = client.post("/api/uploads/", json={"content_type": "text/html"})
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        "content_type 'text/html' is not allowed; allowed: "
        "image/png, image/jpeg, application/pdf, text/plain")
    assert client.post("/api/uploads/", json={"nope": 1}).status_code == 400


def test_confirming_before_the_file_arrived_says_so(client: httpx.Client) -> None:
    issued = presign(client)
    answer = client.post(f"/api/uploads/{issued['id']}/confirm/")
    assert answer.status_code == 409
    assert answer.json()["error"] == "the file has not arrived in the bucket; POST it first"


def test_another_principal_cannot_confirm_or_read_an_upload(
    client: httpx.Client, web: WebServer, dataservices: DataServices
) -> None:
    issued = presign(client)
    assert post_to_s3(issued, PNG).status_code in (200, 201, 204)
    with signed_in(web, dataservices) as other:
        stolen = other.post(f"/api/uploads/{issued['id']}/confirm/")
        assert stolen.status_code == 404, stolen.text
    assert client.post(f"/api/uploads/{issued['id']}/confirm/").status_code == 200
    with signed_in(web, dataservices) as other:
        assert other.get(f"/api/uploads/{issued['id']}/content/").status_code == 404


def test_anonymous_clients_are_refused(web: WebServer) -> None:
    token = secrets.token_hex(16)
    with httpx.Client(base_url=web.url, timeout=10, headers={"X-CSRFToken": token},
                      cookies={"csrftoken": token}) as anonymous:
        answer = anonymous.post("/api/uploads/", json={"content_type": "image/png"})
    assert answer.status_code == 401
    assert "sign in" in answer.json()["error"]


def test_the_sweep_removes_unconfirmed_and_refused_uploads(
    client: httpx.Client, s3_server: ThreadedS3, db_fresh: None
) -> None:
    from datetime import timedelta

    from django.utils import timezone
    from uploads.models import Upload
    from uploads.tasks import upload_cleanup

    stale, refused, fresh = presign(client), presign(client), presign(client)
    for issued in (stale, refused, fresh):
        assert post_to_s3(issued, PNG if issued is not refused else PNG * 40).status_code in (
            200, 201, 204)
    assert client.post(f"/api/uploads/{refused['id']}/confirm/").status_code == 422
    Upload.objects.filter(id=stale["id"]).update(created_at=timezone.now() - timedelta(hours=2))

    upload_cleanup.apply().get()

    s3 = s3_client(s3_server.url)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=LOCAL_BUCKET).get("Contents", [])}
    assert stale["fields"]["key"] not in keys
    assert refused["fields"]["key"] not in keys
    assert fresh["fields"]["key"] in keys
    statuses = dict(Upload.objects.using("default").filter(
        id__in=[stale["id"], refused["id"], fresh["id"]]).values_list("id", "status"))
    assert statuses == {uuid.UUID(stale["id"]): "expired", uuid.UUID(refused["id"]): "expired",
                        uuid.UUID(fresh["id"]): "pending"}


def test_the_sweep_is_on_the_beat_schedule(django_app: None) -> None:
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["uploads-cleanup"]
    assert entry["task"] == "uploads.tasks.upload_cleanup"
    assert settings.CELERY_TASK_ROUTES[entry["task"]]["queue"] == "low"
