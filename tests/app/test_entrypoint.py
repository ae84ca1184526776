"""The process types, run the way the image runs them: through entrypoint.sh."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time

import httpx
import psycopg
import pytest

from local.dataservices import DataServices, free_port
from local.stub_upstream import StubUpstream
from tests.app.conftest import (
    APP_DIR,
    ENTRYPOINT,
    ROOT,
    VENV_BIN,
    admin_env,
    run_entrypoint,
    start_web,
    stop_web,
)

pytestmark = pytest.mark.services
PROCESS_TYPES = ["web", "worker", "beat", "relay", "flower", "bootstrap", "migrate", "check"]


def test_entrypoint_names_exactly_the_process_types() -> None:
    labels = re.findall(r"^  ([a-z*]+)\)$", ENTRYPOINT.read_text(), flags=re.MULTILINE)
    assert labels == [*PROCESS_TYPES, "*"]
    assert ENTRYPOINT.read_text().startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in ENTRYPOINT.read_text()


@pytest.mark.parametrize("args", [[], ["serve"]])
def test_unknown_process_type_prints_usage_and_exits_2(args: list[str]) -> None:
    result = subprocess.run([str(ENTRYPOINT), *args], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    for name in PROCESS_TYPES:
        assert name in result.stderr


@pytest.mark.parametrize("auth", ["", "admin", "admin:", ":secret"])
def test_flower_refuses_to_start_without_basic_auth(app_env: dict[str, str], auth: str) -> None:
    result = run_entrypoint(["flower"], {**app_env, "FLOWER_BASIC_AUTH": auth,
                                         "PORT": str(free_port())}, timeout=30)
    assert result.returncode == 2
    assert "FLOWER_BASIC_AUTH=user:password" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_deploy_is_clean_with_production_settings(app_env: dict[str, str]) -> None:
    env = {**app_env, "DJANGO_SETTINGS_MODULE": "config.settings.production"}
    result = run_entrypoint(["check"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_migrate_refuses_to_run_without_the_migrations_role(app_env: dict[str, str]) -> None:
    # As the app role a schema change fails on "must be owner": say what is missing instead.
    result = run_entrypoint(["migrate"], {**app_env, "DATABASE_MIGRATE_URL": ""})
    assert result.returncode == 2
    assert "migrate needs DATABASE_MIGRATE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_bootstrap_sets_the_app_roles_statement_timeout_and_migrate_keeps_it(
    migrated: subprocess.CompletedProcess[str], app_env: dict[str, str],
    dataservices: DataServices,
) -> None:
    again = run_entrypoint(["migrate"], admin_env(app_env, dataservices))
    assert again.returncode == 0 and "No migrations to apply" in again.stdout
    # A fresh server session of the app role carries the timeout (primary and replica).
    for url in (dataservices.direct_primary_url, dataservices.direct_replica_url):
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
    with (psycopg.connect(dataservices.direct_primary_url, autocommit=True) as conn,
          pytest.raises(psycopg.errors.QueryCanceled)):
        conn.execute("SELECT pg_sleep(3)")


def test_web_serves_and_stops_gracefully_on_sigterm(
    app_env: dict[str, str], migrated: object, stub_upstream: StubUpstream,
) -> None:
    server = start_web({**app_env, "WEB_CONCURRENCY": "1"}, free_port())
    in_flight: list[httpx.Response] = []
    try:
        assert httpx.get(f"{server.url}/livez", timeout=5).json() == {"status": "ok"}
        # A request still running when SIGTERM arrives is finished, not dropped.
        slow = threading.Thread(target=lambda: in_flight.append(httpx.post(
            f"{server.url}/api/checkout/prepare-sync/",
            json={"email": "a@b.io", "amount_cents": 100}, timeout=10)))
        calls_before = stub_upstream.calls
        slow.start()
        # SIGTERM once the request is inside the app (it has called the first upstream).
        deadline = time.monotonic() + 30
        while stub_upstream.calls == calls_before:
            assert time.monotonic() < deadline, "the request never reached the upstreams"
            time.sleep(0.01)
        started = time.monotonic()
    finally:
        code = stop_web(server)
    slow.join(10)
    assert code in (0, -signal.SIGTERM)
    assert time.monotonic() - started < 10
    assert in_flight and in_flight[0].status_code == 200
    assert "Finished server process" in server.log_text()


def test_web_command_line_keeps_alive_longer_than_the_alb() -> None:
    text = ENTRYPOINT.read_text()
    keep_alive = int(re.search(r"--timeout-keep-alive (\d+)", text).group(1))  # type: ignore[union-attr]
    assert keep_alive > 60
    assert "--timeout-graceful-shutdown" in text
    assert 'exec "$PYTHON" -m uvicorn' in text


def test_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run([str(VENV_BIN / "hadolint"), str(APP_DIR / "Dockerfile")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape() -> None:
    text = (APP_DIR / "Dockerfile").read_text()
    # Every stage starts from the base image argument (a digest in real builds, see
    # tests/ci/test_locks.py); its fallback default is an exact, versioned slim tag.
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert len(stages) >= 2 and set(stages) == {"${BASE_IMAGE}"}
    assert re.search(r"^ARG BASE_IMAGE=python:\d+\.\d+\.\d+-slim", text, flags=re.MULTILINE)
    assert re.search(r"^USER 10001", text, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["/app/entrypoint.sh"]' in text
    assert "collectstatic" in text
    final = text.split("AS runtime", 1)[1]
    assert not re.search(r"gcc|build-essential|apt-get install", final)
    assert ROOT.joinpath("app_image", ".dockerignore").exists()


def _client_address_logged(server: object, marker: str) -> str:
    """The client address uvicorn's access log gives for the request to /livez?<marker>."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in server.log_text().splitlines():  # type: ignore[attr-defined]
            if marker in line:
                return line.split()[1].rsplit(":", 1)[0]
        time.sleep(0.1)
    raise AssertionError(f"no access log line for {marker}")


def test_forwarded_headers_are_believed_only_from_the_configured_proxies(
    app_env: dict[str, str], web: object
) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    # The session's server trusts loopback (where nginx runs locally): the header is believed.
    marker = f"probe-{time.monotonic_ns()}"
    httpx.get(f"{web.url}/livez?{marker}", headers=spoofed)  # type: ignore[attr-defined]
    assert _client_address_logged(web, marker) == "203.0.113.9"
    # A server that trusts only the load balancer's subnet ignores the same header from us.
    server = start_web({**app_env, "FORWARDED_ALLOW_IPS": "10.0.0.0/24,10.0.1.0/24"},
                       free_port())
    try:
        marker = f"probe-{time.monotonic_ns()}"
        httpx.get(f"{server.url}/livez?{marker}", headers=spoofed)
        assert _client_address_logged(server, marker) == "127.0.0.1"
    finally:
        stop_web(server)


def test_trusting_every_proxy_is_refused(app_env: dict[str, str]) -> None:
    result = run_entrypoint(["web"], {**app_env, "FORWARDED_ALLOW_IPS": "*"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "FORWARDED_ALLOW_IPS='*' is malformed" in result.stderr
