"""Observability end to end: traffic and a backlog through the local topology, read back from
its Prometheus (the same rule file and SLO queries as the cluster), and Flower behind auth."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from k8s.alerts import alert_rules
from local.bench import publish_backlog
from local.slo import slo_query, slo_rows, slo_table
from local.supervise import Supervisor
from tests.e2e.conftest import RunningTopology

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PAGES = 40
BACKLOG = 300


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll until truthy (Prometheus scrapes every 5 s); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_prometheus_scrapes_every_app_process_and_loads_the_rules(
        running: RunningTopology) -> None:
    url = running.topology.prometheus_url

    def targets_up() -> list[dict]:
        active = httpx.get(f"{url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return active if active and all(t["health"] == "up" for t in active) else []

    active = wait_for(targets_up, "every scrape target to be up")
    jobs = sorted(t["labels"]["job"] for t in active)
    web = running.topology.web_processes
    assert jobs == sorted(["beat", "prometheus", "relay", *["web"] * web, *["workers"] * 3])
    groups = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    assert loaded == {rule["alert"] for rule in alert_rules()}


def _count(url: str, expr: str) -> float:
    return slo_query(url, expr) or 0.0


def test_traffic_and_a_backlog_read_back_from_prometheus(
    running: RunningTopology, editor: dict[str, str]
) -> None:
    topology, url = running.topology, running.topology.prometheus_url
    section = f"e2e{uuid.uuid4().hex[:8]}"  # a section exists once an article is published in it
    created = httpx.post(f"{topology.origin_url}/api/articles/", headers=editor, timeout=10,
                         json={"section": section, "title": "Observed", "body": "e2e"})
    assert created.status_code == 201, created.text
    responses = 'sum(quintet_http_responses_total{view="feed-section"})'
    low_waits = 'sum(quintet_celery_queue_wait_seconds_count{queue="low"})'
    # Two rounds each: a counter's series appears with its first sample, so rate() sees an
    # increase only from the second scrape on (as with any steady traffic).
    with httpx.Client(base_url=topology.origin_url, timeout=10) as client:
        for round_ in (1, 2):
            before = _count(url, responses)
            for _ in range(PAGES):
                assert client.get(f"/sections/{section}/").status_code == 200
            wait_for(lambda b=before: _count(url, responses) - b >= PAGES,
                     f"round {round_}: {PAGES} responses of feed-section in Prometheus")
    before = _count(url, low_waits)
    publish_backlog(topology, 5)
    wait_for(lambda: _count(url, low_waits) - before >= 5, "the first low tasks in Prometheus")
    # A backlog while the low pool is stopped: it waits (the length KEDA would scale on) and
    # its wait is measured when the pool comes back (a new process: its counters start at 0).
    supervisor = Supervisor(topology)
    supervisor.stop_process("worker-low")
    try:
        publish_backlog(topology, BACKLOG)
        wait_for(lambda: slo_query(url, 'max(quintet_celery_queue_length{queue="low"})')
                 == BACKLOG, "the low backlog to show as queue length")
    finally:
        supervisor.start_process("worker-low")
    wait_for(lambda: _count(url, low_waits) >= BACKLOG,
             f"{BACKLOG} low tasks' queue wait in Prometheus", timeout=180)
    rows = {row.slo.name: row for row in slo_rows(url)}
    print("\n" + slo_table(list(rows.values())))
    for name in ("web latency p50", "web latency p95", "web 5xx ratio", "cache hit ratio",
                 "low queue wait p95", "db connections / max_connections"):
        assert rows[name].measured is not None, f"{name}: no data in Prometheus"
    assert rows["web 5xx ratio"].verdict == "pass"
    assert rows["low queue wait p95"].measured >= 1.0  # the backlog waited for the pool


def test_flower_asks_for_its_password(running: RunningTopology) -> None:
    url = f"http://127.0.0.1:{running.topology.flower_port}/"
    assert httpx.get(url, timeout=10).status_code == 401
    user, password = running.topology.flower_basic_auth().split(":", 1)
    assert httpx.get(url, timeout=10, auth=("admin", "wrong")).status_code == 401
    assert httpx.get(url, timeout=10, auth=(user, password)).status_code == 200
