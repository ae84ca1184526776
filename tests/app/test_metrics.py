"""Prometheus metrics of the web process: one endpoint per pod summing every uvicorn worker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from local.dataservices import DataServices
from tests.app.conftest import Principals, WebServer

pytestmark = pytest.mark.services
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
REQUESTS = 40


def scrape(web: WebServer) -> Samples:
    """Every sample of the server's metrics endpoint, by (name, labels)."""
    text = httpx.get(web.metrics_url, timeout=10).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll `predicate` until it holds (the metrics thread binds its port a moment later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_requests_of_every_uvicorn_worker_are_counted_on_one_endpoint(web: WebServer) -> None:
    wait_for(lambda: httpx.get(web.metrics_url, timeout=2).status_code == 200, "/metrics")
    before = value(scrape(web), "quintet_http_request_duration_seconds_count",
                   view="article-detail", method="GET")
    for _ in range(REQUESTS):  # a new connection each: uvicorn's workers share the socket
        assert httpx.get(f"{web.url}/articles/no-such-{uuid.uuid4().hex[:6]}/",
                         timeout=10).status_code == 404
    samples = scrape(web)
    counted = value(samples, "quintet_http_request_duration_seconds_count",
                    view="article-detail", method="GET") - before
    assert counted == REQUESTS, f"one endpoint should count all {REQUESTS} requests: {counted}"
    assert value(samples, "quintet_http_responses_total", view="article-detail",
                 status="404") >= REQUESTS
    assert web.tmp_dir is not None
    writers = {p.name.rsplit("_", 1)[-1] for p in (web.tmp_dir / "quintet-metrics").glob("*.db")}
    assert len(writers) == 2, f"both uvicorn workers should have written samples: {writers}"


def test_views_are_labelled_by_url_name_never_by_path(web: WebServer) -> None:
    wait_for(lambda: httpx.get(web.metrics_url, timeout=2).status_code == 200, "/metrics")
    httpx.get(f"{web.url}/nothing-here-{uuid.uuid4().hex}", timeout=10)
    labels = {dict(ls).get("view") for (n, ls) in scrape(web)
              if n == "quintet_http_responses_total"}
    assert "unmatched" in labels
    assert not any(v and "nothing-here" in v for v in labels)


def test_cache_hits_and_misses_are_counted_per_key_family(
    web: WebServer, principals: Principals, dataservices: DataServices
) -> None:
    wait_for(lambda: httpx.get(web.metrics_url, timeout=2).status_code == 200, "/metrics")
    section = f"s{uuid.uuid4().hex[:8]}"  # a new section: unknown sections are 404
    published = httpx.post(f"{web.url}/api/articles/", timeout=10,
                           headers=Principals.headers(principals.editor),
                           json={"section": section, "title": "Counted", "body": "b"})
    assert published.status_code == 201, published.text
    # These reads carry no read-your-writes pin: a worker whose cache breaker an earlier
    # outage test left open reads the section list from the replica, which must have it.
    dataservices.wait_replica_caught_up()
    before = scrape(web)

    def delta(result: str) -> float:
        name = "quintet_cache_lookups_total"
        return (value(scrape(web), name, family="feed", result=result)
                - value(before, name, family="feed", result=result))

    def read_until_hit() -> bool:
        # An earlier Redis outage test may have left a worker's cache breaker open for a few
        # seconds (reads then skip Redis): read until Redis answers one, within the ceiling.
        assert httpx.get(f"{web.url}/sections/{section}/", timeout=10).status_code == 200
        return delta("hit") >= 1

    wait_for(read_until_hit, "a cache hit on the new section's feed")
    assert delta("miss") >= 1  # a read before it built the feed and stored it


def test_database_queries_and_pgbouncer_pools_are_exported(web: WebServer) -> None:
    wait_for(lambda: httpx.get(web.metrics_url, timeout=2).status_code == 200, "/metrics")
    assert httpx.get(f"{web.url}/", timeout=10).status_code == 200
    samples = scrape(web)
    assert value(samples, "quintet_db_query_duration_seconds_count") > 0
    assert value(samples, "quintet_pgbouncer_up") == 1
    assert value(samples, "quintet_pgbouncer_pool_size", database="app") > 0
    assert ("quintet_pgbouncer_cl_waiting", frozenset({("database", "app")})) in samples
    used = value(samples, "quintet_database_connections")
    limit = value(samples, "quintet_database_max_connections")
    assert 0 < used < limit


def test_the_metrics_port_is_not_served_on_the_app_port(web: WebServer) -> None:
    assert httpx.get(f"{web.url}/metrics", timeout=10).status_code == 404
