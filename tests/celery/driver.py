"""Runs app services in a real Django process for the tests: `python -m tests.celery.driver
'<json command>'` prints one JSON answer. Publishing happens as in the web process (through the
outbox, published by the relay the fixtures run).
"""

from __future__ import annotations

import json
import sys
from typing import Any


class Rollback(Exception):
    """Raised to roll the sign-up's transaction back."""


def _email_messages() -> int:
    from core.models import OutboxMessage
    from core.routing import pin_to_primary

    with pin_to_primary():  # the replica may not have the row yet
        return OutboxMessage.objects.filter(task_name="notifications.tasks.email_send").count()


def run(command: dict[str, Any]) -> dict[str, Any]:
    """Execute one command and return its JSON-able answer."""
    from accounts.services import user_signup
    from django.db import transaction
    from notifications import services, tasks

    action = command["action"]
    if action == "signup":
        before = _email_messages()
        user_id = None
        try:
            with transaction.atomic():
                user = user_signup(username=command["username"], email=command["email"],
                                   password="a-long-test-password")
                user_id = user.pk
                if command.get("rollback"):
                    raise Rollback
        except Rollback:
            pass
        return {"user_id": user_id, "outbox_before": before, "outbox_after": _email_messages()}
    if action == "backlog":
        export = services.report_export_request(kind="email_deliveries")
        with tasks.app.producer_or_acquire() as producer:
            for _ in range(command["count"] - 1):
                tasks.report_export_run.apply_async(args=[export.pk], producer=producer)
        return {"export_id": export.pk}
    if action == "export":
        return {"export_id": services.report_export_request(kind="email_deliveries").pk}
    if action == "webhooks":
        endpoint = services.webhook_endpoint_create(url=command["url"])
        published = 0
        for index in range(command["count"]):
            published += services.webhook_event_publish(
                event="test.event", event_id=f"{command['prefix']}-{index}",
                payload={"index": index})
        endpoint.active = False  # only this batch's endpoint receives this batch
        endpoint.save(update_fields=["active"])
        return {"published": published, "endpoint_id": endpoint.pk}
    if action == "maintenance":
        from datetime import date

        day = date.fromisoformat(command["day"])
        first = services.maintenance_reconcile(day=day)
        second = services.maintenance_reconcile(day=day)
        return {"first": first, "second": second}
    if action == "reconcile":  # one firing (tests run two of these at once)
        from datetime import date

        return {"result": services.maintenance_reconcile(day=date.fromisoformat(command["day"]))}
    if action == "endpoint":  # an active subscriber of every event until the test disables it
        return {"endpoint_id": services.webhook_endpoint_create(url=command["url"]).pk}
    if action == "long_low":
        from tests.celery.tasks import long_low

        long_low.delay(command["tag"], command["seconds"])
        return {}
    if action == "config":
        return _config()
    raise SystemExit(f"unknown action {action!r}")


def _config() -> dict[str, Any]:
    """The Celery configuration as the workers see it, and the start-up check's verdict."""
    from celery.exceptions import ImproperlyConfigured
    from config.celery_app import app, celery_limits_check, worker_transport_options

    app.loader.import_default_modules()
    conf = app.conf
    tasks = {name: {"queue": app.amqp.router.route({}, name)["queue"].name,
                    "soft": task.soft_time_limit, "hard": task.time_limit,
                    "max_retries": task.max_retries}
             for name, task in app.tasks.items() if not name.startswith("celery.")}
    celery_limits_check(app)
    try:
        celery_limits_check(app, {"priority": 5, "default": 5, "low": 5})
        refused = ""
    except ImproperlyConfigured as exc:
        refused = str(exc)
    return {"queues": sorted(q.name for q in conf.task_queues),
            "default_queue": conf.task_default_queue, "acks_late": conf.task_acks_late,
            "reject_on_worker_lost": conf.task_reject_on_worker_lost,
            "prefetch": conf.worker_prefetch_multiplier, "result_backend": conf.result_backend,
            "ignore_result": conf.task_ignore_result, "tasks": tasks,
            "refused_short_visibility": refused,
            "worker_options": {q: worker_transport_options([q]) for q in conf_queues(conf)}}


def conf_queues(conf: Any) -> list[str]:
    """The configured queue names."""
    return [q.name for q in conf.task_queues]


def main() -> None:
    """Set Django up, run the command given as JSON in argv[1], print the answer."""
    import django

    django.setup()
    print(json.dumps(run(json.loads(sys.argv[1]))))


if __name__ == "__main__":
    main()
