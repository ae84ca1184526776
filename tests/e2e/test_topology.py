"""The local topology end to end, through nginx (edge :base, ALB :base+1), in file order.

The last test stops the topology with the CLI and checks that nothing of it is left.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from local.dataservices import pid_alive
from local.preflight import port_free
from local.supervise import Supervisor
from local.topology import CONTRACT, PROCESS_BASE
from tests.e2e.conftest import RunningTopology

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TIMEOUT = httpx.Timeout(10.0)
SET_BY_THE_ENTRYPOINT = {"DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR", "PWD", "OLDPWD",
                         "SHLVL", "_"}
"""The image's own export and bash's bookkeeping, not variables the runner passes."""


def _get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]


def _post(url: str, **kwargs: object) -> httpx.Response:
    return httpx.post(url, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]


def _cookie(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_every_process_is_up_and_healthy(running: RunningTopology) -> None:
    status = running.status()
    unhealthy = [p["name"] for p in status["processes"] if not p["healthy"]]
    assert status["running"] and not unhealthy, f"unhealthy: {unhealthy}"
    names = {p["name"] for p in status["processes"]}
    assert {"primary", "replica", "pgbouncer", "cache", "broker", "nginx", "beat", "relay", "stub",
            "worker-default", "worker-priority", "worker-low", "web-1", "web-2"} <= names


def test_second_up_says_it_is_running_and_where(running: RunningTopology) -> None:
    result = running.cli("up", "--detach", timeout=300)
    assert result.returncode == 1
    assert "already running" in result.stderr
    assert str(running.topology.state_dir) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("name", ["web-1", "worker-priority", "beat", "relay"])
def test_app_processes_get_exactly_the_contract(running: RunningTopology, name: str) -> None:
    contract = json.loads(CONTRACT.read_text())
    env = _environ(running.pid(name))
    names = {v["name"] for v in contract}
    required = {v["name"] for v in contract if v["required"]}
    assert required <= set(env), f"{name} lacks {sorted(required - set(env))}"
    outside = set(env) - names - set(PROCESS_BASE) - SET_BY_THE_ENTRYPOINT
    assert not outside, f"{name} gets variables outside the contract: {sorted(outside)}"


def test_anonymous_page_is_a_miss_then_an_edge_hit(
    running: RunningTopology, editor: dict[str, str]
) -> None:
    section = f"e2e-{uuid.uuid4().hex[:8]}"
    created = _post(f"{running.topology.url}/api/articles/", headers=editor,
                    json={"section": section, "title": "Edge hit", "body": "e2e"})
    assert created.status_code == 201, created.text
    url = f"{running.topology.url}/sections/{section}/"
    first, second = _get(url), _get(url)
    assert first.status_code == second.status_code == 200
    assert "public" in first.headers["cache-control"]
    assert first.headers["x-cache-status"] == "MISS"
    assert second.headers["x-cache-status"] == "HIT"
    for cookie in ("sessionid=abc", "q_rw=abc"):  # every bypass cookie of edge.json
        personal = _get(url, headers={"Cookie": cookie})
        assert personal.headers["x-cache-status"] == "BYPASS", cookie
    unknown = _get(f"{running.topology.url}/sections/no-such-{uuid.uuid4().hex[:8]}/")
    assert unknown.status_code == 404 and unknown.headers["x-cache-status"] != "HIT"


def test_static_files_are_served_by_the_edge(running: RunningTopology) -> None:
    manifest = json.loads((Path(__file__).resolve().parents[2] / "app_image" / "staticfiles"
                           / "staticfiles.json").read_text())
    hashed = next(iter(manifest["paths"].values()))
    response = _get(f"{running.topology.url}/static/{hashed}")
    assert response.status_code == 200
    assert response.headers["x-cache-status"] == "STATIC"
    assert "immutable" in response.headers["cache-control"]


def test_article_edit_invalidates_the_app_cache_and_the_page_shows_it(
    running: RunningTopology, editor: dict[str, str]
) -> None:
    base = running.topology.url
    section = f"e2e-{uuid.uuid4().hex[:8]}"
    page = f"{base}/sections/{section}/"
    before, after = f"Before {uuid.uuid4().hex[:8]}", f"After {uuid.uuid4().hex[:8]}"
    created = _post(f"{base}/api/articles/", headers=editor,
                    json={"section": section, "title": before, "body": "e2e"})
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    first = _get(page)  # caches the feed in the app cache, and the page at the edge
    assert first.headers["x-cache-status"] == "MISS" and before in first.text
    assert _get(page).headers["x-cache-status"] == "HIT"

    edited = httpx.patch(f"{base}/api/articles/{slug}/", json={"title": after}, headers=editor,
                         timeout=TIMEOUT)
    assert edited.status_code == 200, edited.text
    pin = _cookie(edited, "q_rw")

    # The editor (read-your-writes cookie) skips the edge; the app cache was dropped on commit.
    editor = _get(page, headers={"Cookie": f"q_rw={pin}"})
    assert editor.headers["x-cache-status"] == "BYPASS"
    assert after in editor.text and before not in editor.text
    # Anyone asking the origin afresh sees it too (a new edge key, the same app cache key).
    fresh = _get(f"{page}?after-edit=1")
    assert fresh.headers["x-cache-status"] == "MISS" and after in fresh.text
    # The old edge copy lives out its short max-age: the edge honours the app's Cache-Control.
    edge = _get(page)
    assert edge.headers["x-cache-status"] == "HIT" and before in edge.text
    assert "max-age=" in edge.headers["cache-control"]


def test_checkout_fanout_answers_within_budget_with_one_upstream_down(
    running: RunningTopology,
) -> None:
    stub = f"http://127.0.0.1:{running.topology.stub_port}/_control"
    _post(f"{stub}?delay_ms=200&fail=fraud&reset=1").raise_for_status()
    try:
        started = time.perf_counter()
        response = _post(f"{running.topology.url}/api/checkout/prepare/",
                         json={"email": "e2e@example.com", "amount_cents": 1200})
        elapsed = time.perf_counter() - started
        peak = _post(f"{stub}?delay_ms=200&fail=fraud").json()["peak"]
    finally:
        _post(f"{stub}?delay_ms={running.topology.upstream_delay_ms}&fail=").raise_for_status()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["partial"] is True
    assert body["checks"]["fraud"]["ok"] is False
    assert body["checks"]["sanctions"]["ok"] and body["checks"]["address"]["ok"]
    print(f"checkout fan-out through nginx: {elapsed * 1000:.0f} ms, {peak} upstream calls at once")
    assert peak == 3, f"the three upstream calls did not overlap (at most {peak} at once)"
    assert response.headers.get("x-cache-status") is None  # a POST never touches the cache


def test_same_idempotency_key_twice_makes_one_order(
    running: RunningTopology, customer: dict[str, str]
) -> None:
    key = f"e2e-{uuid.uuid4()}"
    url = f"{running.topology.url}/api/checkout/orders/"
    order = {"email": "buyer@example.com", "amount_cents": 4200}
    assert _post(url, json=order, headers={"Idempotency-Key": key}).status_code == 401
    first = _post(url, json=order, headers={"Idempotency-Key": key, **customer})
    second = _post(url, json=order, headers={"Idempotency-Key": key, **customer})
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("idempotent-replayed") == "true"
    rows = running.topology.dataservices().psql(
        "primary", f"SELECT count(*) FROM checkout_order WHERE idempotency_key = '{key}'")
    assert rows == "1"


EMAIL_TASK = "notifications.tasks.email_send"


def _task_starts(log: Path, task_name: str) -> list[dict[str, object]]:
    """The JSON `task_started` lines of `task_name` in a worker's log."""
    starts = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and task_name in line:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "task_started" and entry.get("task_name") == task_name:
                starts.append(entry)
    return starts


def test_signup_welcome_email_runs_on_the_priority_worker(running: RunningTopology) -> None:
    logs = running.topology.log_dir
    workers = ("worker-priority", "worker-default", "worker-low")
    before = {w: len(_task_starts(logs / f"{w}.log", EMAIL_TASK)) for w in workers}
    name = f"e2e{uuid.uuid4().hex[:10]}"
    response = _post(f"{running.topology.url}/api/accounts/signup/",
                     json={"username": name, "email": f"{name}@example.com",
                           "password": "a-long-e2e-password-1"})
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    services = running.topology.dataservices()
    query = ("SELECT status FROM notifications_emaildelivery "
             f"WHERE dedupe_key = 'welcome:{user_id}'")
    deadline, status = time.monotonic() + 120, ""
    while time.monotonic() < deadline and status != "sent":
        status = services.psql("primary", query)
        time.sleep(0.2)
    assert status == "sent", f"welcome email not sent within 30s (status {status!r})"
    after = {w: _task_starts(logs / f"{w}.log", EMAIL_TASK) for w in workers}
    new_on_priority = after["worker-priority"][before["worker-priority"]:]
    assert new_on_priority and all(e.get("queue") == "priority" for e in new_on_priority)
    for other in ("worker-default", "worker-low"):
        assert len(after[other]) == before[other], f"{EMAIL_TASK} ran on {other}"


def test_an_upload_goes_straight_to_the_local_s3_and_bad_ones_are_refused(
    running: RunningTopology,
) -> None:
    """Presigned POST to moto's server, confirmation by the app, read back; the oversized
    and wrong-type objects (which moto lets in) are refused on confirmation."""
    import secrets as token_source

    token = token_source.token_hex(16)
    # The edge forwards X-Forwarded-Proto: https, so Django checks the Referer as a browser
    # sends it on an HTTPS page; nginx passes Host without the port ($host).
    page = "https://127.0.0.1/"
    with httpx.Client(base_url=running.topology.url, timeout=TIMEOUT,
                      headers={"X-CSRFToken": token, "Referer": page}) as client:
        client.cookies.set("csrftoken", token, domain="127.0.0.1")
        name = f"e2e{uuid.uuid4().hex[:10]}"
        signup = client.post("/api/accounts/signup/", json={
            "username": name, "email": f"{name}@example.com", "password": "a-long-e2e-password-1"})
        assert signup.status_code == 201, signup.text
        # The cookies are Secure (the edge says https): carry them by hand over loopback HTTP.
        session, csrf = _cookie(signup, "sessionid"), _cookie(signup, "csrftoken")
        client.cookies.clear()
        client.cookies.set("sessionid", session, domain="127.0.0.1")
        client.cookies.set("csrftoken", csrf, domain="127.0.0.1")
        client.headers["X-CSRFToken"] = csrf
        running.topology.dataservices().wait_replica_caught_up()

        def issue(content_type: str, size: int) -> dict:
            answer = client.post("/api/uploads/", json={"content_type": content_type,
                                                        "size": size})
            assert answer.status_code == 201, answer.text
            assert answer.json()["url"].startswith(running.topology.s3_url)
            return answer.json()

        def upload(issued: dict, body: bytes, content_type: str | None = None) -> float:
            fields = dict(issued["fields"])
            if content_type:
                fields["Content-Type"] = content_type
            started = time.perf_counter()
            posted = httpx.post(issued["url"], data=fields, files={"file": ("f", body)},
                                timeout=TIMEOUT)
            assert posted.status_code in (200, 201, 204), posted.text
            return time.perf_counter() - started

        def confirm(issued: dict) -> httpx.Response:
            return client.post("/api/uploads/confirm/", json={"key": issued["fields"]["key"]})

        body = b"hello from the e2e test\n"
        good = issue("text/plain", len(body))
        upload_seconds = upload(good, body)
        started = time.perf_counter()
        confirmed = confirm(good)
        confirm_seconds = time.perf_counter() - started
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["size"] == len(body)
        read_back = client.get(f"/api/uploads/{good['id']}/content/")
        assert read_back.status_code == 200 and read_back.content == body
        print(f"\nthrough the edge: presigned POST {upload_seconds * 1000:.1f} ms, "
              f"confirmation {confirm_seconds * 1000:.1f} ms")

        # Declared at the maximum, sent one byte over it: moto lets it in, the app refuses it.
        oversized = issue("text/plain", good["max_bytes"])
        upload(oversized, b"x" * (good["max_bytes"] + 1))
        refused = confirm(oversized)
        assert refused.status_code == 422, refused.text
        assert f"is {good['max_bytes'] + 1} bytes" in refused.json()["fields"]["size"][0]
        assert client.get(f"/api/uploads/{oversized['id']}/content/").status_code == 404

        wrong_type = issue("image/png", len(b"<html></html>"))
        upload(wrong_type, b"<html></html>", "text/html")
        refused = confirm(wrong_type)
        assert refused.status_code == 422, refused.text
        assert "'text/html'" in refused.json()["fields"]["content_type"][0]

        too_big_to_ask = client.post("/api/uploads/", json={
            "content_type": "text/plain", "size": good["max_bytes"] + 1})
        assert too_big_to_ask.status_code == 400 and "size" in too_big_to_ask.json()["fields"]
def test_healthz_is_not_public_at_the_edge(running: RunningTopology) -> None:
    for path in ("/healthz", "/healthz/", "/healthz?full=1"):
        public = _get(f"{running.topology.url}{path}")
        assert public.status_code == 404, (path, public.text)
        assert "127.0.0.1" not in public.text and "checks" not in public.text
    assert _get(f"{running.topology.origin_url}/healthz").status_code == 200  # monitors
    assert _get(f"{running.topology.url}/readyz").status_code == 200




def test_healthz_turns_503_when_the_replica_stops(running: RunningTopology) -> None:
    url = f"{running.topology.origin_url}/healthz"  # the monitors' way in; the edge blocks it
    assert _get(url).status_code == 200
    supervisor = Supervisor(running.topology)
    supervisor.stop_process("replica")
    try:
        down = _get(url)
        assert down.status_code == 503
        assert any(name.startswith("replica") for name in down.json()["failed"]), down.text
        assert "127.0.0.1" not in down.text
        assert _get(f"{running.topology.url}/readyz").status_code == 200
    finally:
        supervisor.start_process("replica")
    deadline = time.monotonic() + 60
    while _get(url).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _get(url).status_code == 200


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text.encode() in (proc / "cmdline").read_bytes() and pid_alive(int(proc.name)):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


@pytest.mark.stops_topology
def test_down_leaves_no_process_behind(running: RunningTopology) -> None:
    status = running.status()
    pids = [p["pid"] for p in status["processes"] if p["pid"]] + [status["supervisord_pid"]]
    result = running.cli("down", timeout=300)
    assert result.returncode == 0, result.stderr
    assert [pid for pid in pids if pid_alive(pid)] == []
    busy = [port for port in running.topology.ports() if not port_free(port)]
    assert busy == [], f"ports still listening after down: {busy}"
    home = running.topology.dataservices().home  # apart from the state dir when run by root
    assert _processes_mentioning(str(running.topology.state_dir)) == []
    assert _processes_mentioning(str(home)) == []
    # State survives: the clusters are still on disk for the next `make up`.
    assert (home / "primary" / "PG_VERSION").exists()
    assert running.cli("status", timeout=300).returncode == 1
