"""The Celery configuration the workers load: queues, routes, delivery rules, limits."""

from __future__ import annotations

import pytest

from tests.celery.conftest import Stack

pytestmark = pytest.mark.services
ROUTES = {
    "notifications.tasks.email_send": "priority",
    "notifications.tasks.webhook_deliver": "default",
    "notifications.tasks.report_export_run": "low",
    "notifications.tasks.maintenance_reconcile": "low",
    "notifications.tasks.maintenance_cleanup": "low",
    "tests.celery.tasks.long_low": "low",  # a test-only task (tests.celery.settings)
    "core.tasks.idempotency_records_purge": "low",
    "uploads.tasks.upload_cleanup": "low",
}


def test_queues_routes_and_delivery_rules(stack: Stack) -> None:
    config = stack.drive(action="config")
    assert config["queues"] == ["default", "low", "priority"]  # no implicit `celery` queue
    assert config["default_queue"] == "default"
    assert config["acks_late"] and config["reject_on_worker_lost"] and config["prefetch"] == 1
    assert config["result_backend"] is None and config["ignore_result"]
    assert {name: t["queue"] for name, t in config["tasks"].items()} == ROUTES
    for name, task in config["tasks"].items():
        assert 0 < task["soft"] < task["hard"], name
        assert task["max_retries"] is not None, name


def test_a_visibility_timeout_shorter_than_a_task_is_refused(stack: Stack) -> None:
    refused = stack.drive(action="config")["refused_short_visibility"]
    assert "visibility_timeout of queue" in refused and "=5s must exceed" in refused


def test_each_queue_family_keeps_its_unacked_messages_under_its_own_keys(stack: Stack) -> None:
    options = stack.drive(action="config")["worker_options"]
    keys = {q: (o["unacked_key"], o["unacked_index_key"], o["unacked_mutex_key"])
            for q, o in options.items()}
    assert len(set(keys.values())) == 3, keys  # no queue sweeps another's reserved messages
    timeouts = {q: o["visibility_timeout"] for q, o in options.items()}
    assert max(timeouts["priority"], timeouts["default"]) < timeouts["low"], timeouts
    # A worker killed mid-sweep leaves the sweep's mutex behind: it must expire well inside the
    # visibility timeout (kombu's default, 300 s, exceeds the priority queue's).
    for queue, o in options.items():
        assert o.get("unacked_mutex_expire", 300) < o["visibility_timeout"], queue
