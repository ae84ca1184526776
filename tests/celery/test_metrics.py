"""Celery's Prometheus metrics, from a real worker's metrics port (its prefork children summed)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from local.dataservices import free_port
from tests.celery.conftest import Stack, wait_for

pytestmark = pytest.mark.services
EMAIL_TASK = "notifications.tasks.email_send"


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample on the worker's metrics port ({} until it serves)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    """Sum of the samples of `name` carrying `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def _email_status(stack: Stack, user_id: int) -> str | None:
    rows = stack.sql("SELECT status FROM notifications_emaildelivery WHERE dedupe_key = %s",
                     f"welcome:{user_id}")
    return rows[0][0] if rows else None


def test_queue_wait_runtime_outcomes_retries_and_dead_letters_per_queue(clean: Stack) -> None:
    port = free_port()
    clean.start_worker("priority", metrics_port=port)
    ok = clean.drive(action="signup", username="metrics-ok", email="metrics-ok@example.com")
    failing = clean.drive(action="signup", username="fail-metrics",
                          email="fail-metrics@example.com")
    wait_for(lambda: _email_status(clean, ok["user_id"]) == "sent", 30, "the email")
    wait_for(lambda: _email_status(clean, failing["user_id"]) == "failed", 90,
             "the final failure", 0.2)

    def settled() -> dict:
        samples = scrape(port)
        return samples if value(samples, "quintet_celery_task_outcomes_total",
                                state="FAILURE") == 1 else {}

    samples = wait_for(settled, 30, "the failure to be counted", 0.2)
    runs = 1 + 9  # the good email once; the failing one 1 + max_retries (8)
    labels = {"queue": "priority", "task": EMAIL_TASK}
    assert value(samples, "quintet_celery_queue_wait_seconds_count", queue="priority") == runs
    assert value(samples, "quintet_celery_task_runtime_seconds_count", **labels) == runs
    assert value(samples, "quintet_celery_task_outcomes_total", state="SUCCESS", **labels) == 1
    assert value(samples, "quintet_celery_task_outcomes_total", state="RETRY", **labels) == 8
    assert value(samples, "quintet_celery_task_retries_total", **labels) == 8
    assert value(samples, "quintet_celery_task_dead_lettered_total", **labels) == 1


def test_queue_length_is_the_list_length_keda_reads(clean: Stack) -> None:
    port = free_port()
    clean.start_worker("priority", metrics_port=port)  # nothing consumes `low`
    clean.drive(action="backlog", count=25)
    samples = wait_for(lambda: scrape(port), 15, "the metrics port")
    assert value(samples, "quintet_celery_broker_up") == 1
    assert value(samples, "quintet_celery_queue_length", queue="low") == clean.broker().llen("low")
    assert value(samples, "quintet_celery_queue_length", queue="low") == 25
    assert value(samples, "quintet_pgbouncer_up") == 1
