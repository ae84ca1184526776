"""Notification tasks: each loads by id, calls one service, retries on error; the failure path
calls a service too. Queues come from task_routes (settings); limits from CELERY_TIME_LIMITS."""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from config.celery_app import QuintetTask, app
from notifications import services
from notifications.providers import ProviderError, ProviderRateLimited

log = structlog.get_logger(__name__)
TRANSIENT = (ProviderError, httpx.HTTPError, DatabaseError, OSError)


def _limits(queue: str) -> dict[str, int]:
    soft, hard = settings.CELERY_TIME_LIMITS[queue]
    return {"soft_time_limit": soft, "time_limit": hard}


class EmailSendTask(QuintetTask):
    """Failure path of email_send."""

    def on_final_failure(self, *, exc: BaseException, args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> None:
        """Mark the delivery failed."""
        services.email_delivery_fail(delivery_id=args[0], error=f"{type(exc).__name__}: {exc}")


@app.task(base=EmailSendTask, bind=True, name="notifications.tasks.email_send",
          autoretry_for=TRANSIENT, max_retries=8, **_limits("priority"))
def email_send(self: QuintetTask, delivery_id: int) -> None:
    """Send one email delivery (the welcome email) through the provider."""
    try:
        services.email_delivery_send(delivery_id=delivery_id)
    except ProviderRateLimited as exc:
        raise self.retry_after(seconds=exc.retry_after, exc=exc) from exc
    except SoftTimeLimitExceeded as exc:
        log.warning("task_soft_time_limit", delivery_id=delivery_id)
        raise self.backoff_retry(exc=exc) from exc


class WebhookDeliverTask(QuintetTask):
    """Failure path of webhook_deliver."""

    def on_final_failure(self, *, exc: BaseException, args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> None:
        """Mark the delivery failed."""
        services.webhook_delivery_fail(delivery_id=args[0],
                                       error=f"{type(exc).__name__}: {exc}")


@app.task(base=WebhookDeliverTask, bind=True, name="notifications.tasks.webhook_deliver",
          autoretry_for=TRANSIENT, max_retries=10, **_limits("default"))
def webhook_deliver(self: QuintetTask, delivery_id: int) -> None:
    """POST one webhook delivery; backoff on errors, Retry-After on rate limits."""
    try:
        services.webhook_delivery_attempt(delivery_id=delivery_id)
    except ProviderRateLimited as exc:
        raise self.retry_after(seconds=exc.retry_after, exc=exc) from exc
    except SoftTimeLimitExceeded as exc:
        # The receiver is too slow: record why, give the socket back, try again later.
        services.webhook_delivery_note(delivery_id=delivery_id,
                                       error="soft time limit exceeded")
        log.warning("task_soft_time_limit", delivery_id=delivery_id)
        raise self.backoff_retry(exc=exc) from exc


class ReportExportTask(QuintetTask):
    """Failure path of report_export_run."""

    def on_final_failure(self, *, exc: BaseException, args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> None:
        """Mark the export failed, dropping partial content."""
        services.report_export_fail(export_id=args[0], error=f"{type(exc).__name__}: {exc}")


@app.task(base=ReportExportTask, bind=True, name="notifications.tasks.report_export_run",
          autoretry_for=(DatabaseError, OSError), max_retries=3, **_limits("low"))
def report_export_run(self: QuintetTask, export_id: int) -> None:
    """Build one report export."""
    try:
        services.report_export_build(export_id=export_id)
    except SoftTimeLimitExceeded:
        # Too big for its limit: a retry would time out again. Clean up and report.
        services.report_export_fail(export_id=export_id, error="soft time limit exceeded")
        log.error("task_soft_time_limit", export_id=export_id)
        raise


@app.task(base=QuintetTask, bind=True, name="notifications.tasks.maintenance_reconcile",
          autoretry_for=(DatabaseError, OSError), max_retries=3, **_limits("low"))
def maintenance_reconcile(self: QuintetTask, day: str | None = None) -> None:
    """Nightly: re-enqueue deliveries whose message was lost (once per day)."""
    services.maintenance_reconcile(day=_day(day))


@app.task(base=QuintetTask, bind=True, name="notifications.tasks.maintenance_cleanup",
          autoretry_for=(DatabaseError, OSError), max_retries=3, **_limits("low"))
def maintenance_cleanup(self: QuintetTask, day: str | None = None) -> None:
    """Nightly: delete finished records past their retention (once per day)."""
    services.maintenance_cleanup(day=_day(day))


def _day(day: str | None) -> Any:
    from datetime import date

    return date.fromisoformat(day) if day else timezone.now().date()
