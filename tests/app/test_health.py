"""Probes: /livez checks nothing; /healthz names what failed, bounded, and recovers by itself."""

from __future__ import annotations

import time

import httpx
import pytest

from local.dataservices import DataServices
from tests.app.conftest import WebServer

pytestmark = pytest.mark.services


def test_healthz_reports_every_dependency(web: WebServer) -> None:
    response = httpx.get(f"{web.url}/healthz", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"] == {"primary": "ok", "replica_0": "ok", "cache": "ok", "broker": "ok"}


def test_database_down_then_back_without_restarting_the_app(
    web: WebServer, dataservices: DataServices
) -> None:
    pid_before = web.process.pid
    dataservices.stop_service("primary")
    try:
        started = time.perf_counter()
        down = httpx.get(f"{web.url}/healthz", timeout=10)
        elapsed = time.perf_counter() - started
        assert down.status_code == 503, down.text
        assert "primary" in down.json()["failed"]
        assert elapsed < 3.0  # bounded
        print(f"healthz with the primary down: 503 in {elapsed * 1000:.0f} ms")
        assert httpx.get(f"{web.url}/livez").status_code == 200  # liveness ignores the DB
    finally:
        dataservices.start_service("primary")
    deadline = time.monotonic() + 60
    while True:
        up = httpx.get(f"{web.url}/healthz", timeout=10)
        if up.status_code == 200:
            break
        assert time.monotonic() < deadline, up.text
        time.sleep(0.25)
    assert web.process.poll() is None and web.process.pid == pid_before
    assert httpx.get(f"{web.url}/").status_code == 200


def test_probes_answer_whatever_the_host_header(web: WebServer) -> None:
    # The ALB target health check and kubelet address the pod by IP, not by an allowed host.
    foreign = {"Host": "10.42.7.19:8000"}
    assert httpx.get(f"{web.url}/livez", headers=foreign).status_code == 200
    assert httpx.get(f"{web.url}/healthz", headers=foreign, timeout=10).status_code == 200
    # Every other path still goes through Django's host validation.
    assert httpx.get(f"{web.url}/", headers=foreign).status_code == 400
