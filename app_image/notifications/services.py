"""Notification writes: request deliveries (through the outbox) and carry them out (in tasks).

Every carry-out is idempotent: rows are keyed by a unique dedupe key, created with
get_or_create, and moved forward only by conditional updates (`filter(status=...).update`), so
a task that runs twice (redelivery after a crash) has its effect once.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import secrets
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from core.outbox import outbox_cleanup, outbox_enqueue, outbox_enqueue_many
from core.routing import pin_to_primary
from notifications.models import (
    DeliveryStatus,
    EmailDelivery,
    ExportStatus,
    LocalOutboxMessage,
    MaintenanceRun,
    ReportExport,
    WebhookDelivery,
    WebhookEndpoint,
)
from notifications.providers import ProviderError, ProviderRateLimited, email_provider
from notifications.webhook_targets import (
    WebhookTargetRefused,
    webhook_post,
    webhook_target_check,
)

log = structlog.get_logger(__name__)
IDEMPOTENCY_HEADER = "Idempotency-Key"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
ERROR_SECRET = f"a webhook secret is {SECRET_PREFIX} followed by base64 of 24 to 64 bytes"


TASK_PREFIX = "notifications.tasks."


def _enqueue(task: str, *ids: int) -> None:
    """Owe the broker `task(*ids)` through the outbox, in the caller's transaction: a
    rolled-back row sends nothing, a committed one is published by the relay at least once."""
    outbox_enqueue(task_name=TASK_PREFIX + task, args=list(ids))


def _enqueue_many(task: str, ids: list[int]) -> None:
    """Owe the broker `task(id)` for every id through the outbox, in one INSERT."""
    if ids:
        outbox_enqueue_many(task_name=TASK_PREFIX + task, args_list=[[pk] for pk in ids])


# ---- email -----------------------------------------------------------------------------------


def welcome_email_request(*, user_id: int, email: str, display_name: str) -> EmailDelivery:
    """Owe the user a welcome email (once per user); it is sent on the priority queue."""
    with transaction.atomic():
        delivery, created = EmailDelivery.objects.get_or_create(
            dedupe_key=f"welcome:{user_id}",
            defaults={"recipient": email, "subject": "Welcome to quintet",
                      "body": f"Hello {display_name}, your account is ready."},
        )
        if created:
            _enqueue("email_send", delivery.pk)
    return delivery


def email_delivery_send(*, delivery_id: int) -> bool:
    """Send a pending email through the provider; True if this call sent it.

    The provider gets the dedupe key as its idempotency key, so a crash between the send and
    the status update cannot make a second email on redelivery.
    """
    with pin_to_primary():
        delivery = EmailDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return False
    message_id = email_provider().send(
        idempotency_key=delivery.dedupe_key, sender=settings.NOTIFICATIONS_FROM_EMAIL,
        recipient=delivery.recipient, subject=delivery.subject, body=delivery.body,
    )
    updated = EmailDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENT, provider_message_id=message_id, sent_at=timezone.now())
    return updated == 1


def email_delivery_fail(*, delivery_id: int, error: str) -> None:
    """Mark a pending email failed (retries exhausted)."""
    EmailDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, last_error=error[:2000])


# ---- webhooks --------------------------------------------------------------------------------


class WebhookRejected(ProviderError):
    """The endpoint answered with an error status worth retrying."""


def webhook_event_publish(*, event: str, event_id: str, payload: dict[str, Any]) -> int:
    """Owe `event` to every active endpoint (once per event id and endpoint); return how many."""
    with transaction.atomic():
        endpoints = {f"{event_id}:{e.pk}": e for e in WebhookEndpoint.objects.filter(active=True)}
        owed = set(endpoints) - set(WebhookDelivery.objects.filter(
            dedupe_key__in=list(endpoints)).values_list("dedupe_key", flat=True))
        rows = [WebhookDelivery(dedupe_key=key, endpoint=endpoints[key], event=event,
                                payload=payload) for key in sorted(owed)]
        try:
            with transaction.atomic():  # one INSERT for every endpoint, not one per endpoint
                created = WebhookDelivery.objects.bulk_create(rows)
        except IntegrityError:  # a concurrent publish of the same event won a row: row by row
            created = [d for d, new in (WebhookDelivery.objects.get_or_create(
                dedupe_key=row.dedupe_key, defaults={"endpoint": row.endpoint, "event": event,
                                                     "payload": payload}) for row in rows) if new]
        _enqueue_many("webhook_deliver", [delivery.pk for delivery in created])
    return len(created)


def webhook_secret_new() -> str:
    """A fresh endpoint secret in the Standard Webhooks format (whsec_ + base64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _secret_check(secret: str) -> str:
    try:
        raw = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        raw = b""
    if not secret.startswith(SECRET_PREFIX) or not 24 <= len(raw) <= 64:
        raise ValueError(ERROR_SECRET)
    return secret


def webhook_endpoint_create(*, url: str, secret: str | None = None) -> WebhookEndpoint:
    """Subscribe `url` to the platform's events; refuse URLs webhooks may not reach.

    Raises WebhookTargetRefused (non-HTTPS, private, loopback, link-local or metadata targets,
    checked after DNS resolution) or ValueError for a malformed secret. The check runs again at
    every delivery: DNS may answer differently later.
    """
    webhook_target_check(url=url)
    secret = _secret_check(secret) if secret is not None else webhook_secret_new()
    return WebhookEndpoint.objects.create(url=url, secret=secret)


def webhook_signed_headers(*, secret: str, message_id: str, body: str,
                           at: datetime | None = None) -> dict[str, str]:
    """Standard Webhooks headers: webhook-id, -timestamp and a v1 signature of all three + body.

    The id is the same on every retry of one message (receivers dedupe on it); the timestamp is
    the attempt's, so a delivery captured and replayed later falls outside the receiver's
    tolerance (5 minutes in the reference verifier).
    """
    at = at or timezone.now()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


def webhook_delivery_attempt(*, delivery_id: int) -> bool:
    """POST a pending delivery, signed; True once delivered (or already delivered).

    Raises ProviderRateLimited (429/503 with Retry-After), WebhookRejected (other 5xx, 408)
    or httpx errors, all retried by the task. A 4xx other than those, a redirect that is not a
    checked 307/308, or a target that is refused, is final: failed.
    The receiver gets the dedupe key as webhook-id (and Idempotency-Key), so a redelivery is one
    event to it.
    """
    with pin_to_primary():
        delivery = (WebhookDelivery.objects.select_related("endpoint")
                    .filter(pk=delivery_id).first())
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return delivery is not None and delivery.status == DeliveryStatus.SENT
    # A counter of attempts made (not an effect), so a plain increment is the right thing.
    WebhookDelivery.objects.filter(pk=delivery_id).update(attempts=F("attempts") + 1)
    body = json.dumps({"event": delivery.event, "data": delivery.payload}, sort_keys=True)
    headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: delivery.dedupe_key,
               **webhook_signed_headers(secret=delivery.endpoint.secret,
                                        message_id=delivery.dedupe_key, body=body)}
    try:
        response = webhook_post(url=delivery.endpoint.url, content=body.encode(),
                                headers=headers,
                                timeout=settings.NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS)
    except WebhookTargetRefused as refused:
        webhook_delivery_fail(delivery_id=delivery_id, error=f"target refused: {refused}")
        return False
    code = response.status_code
    WebhookDelivery.objects.filter(pk=delivery_id).update(last_status_code=code)
    if code in (429, 503) and "Retry-After" in response.headers:
        try:
            retry_after = float(response.headers["Retry-After"])
        except ValueError:
            retry_after = 30.0
        raise ProviderRateLimited(retry_after)
    if code >= 500 or code in (408, 429):
        raise WebhookRejected(f"HTTP {code}")
    if code >= 300:
        webhook_delivery_fail(delivery_id=delivery_id, error=f"HTTP {code} (not retried)")
        return False
    WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENT, delivered_at=timezone.now())
    return True


def webhook_delivery_note(*, delivery_id: int, error: str) -> None:
    """Record why the last attempt did not finish (the delivery stays pending)."""
    WebhookDelivery.objects.filter(pk=delivery_id).update(last_error=error[:2000])


def webhook_delivery_fail(*, delivery_id: int, error: str) -> None:
    """Mark a pending webhook delivery failed (retries exhausted or refused)."""
    WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, last_error=error[:2000])


# ---- report exports --------------------------------------------------------------------------


REPORT_KINDS = ("email_deliveries",)


def report_export_request(*, kind: str) -> ReportExport:
    """Queue a report export (the low queue); it is built after this transaction commits."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"unknown report kind {kind!r}; known: {', '.join(REPORT_KINDS)}")
    with transaction.atomic():
        export = ReportExport.objects.create(kind=kind)
        _enqueue("report_export_run", export.pk)
    return export


def report_export_build(*, export_id: int) -> bool:
    """Build the CSV of a queued (or interrupted) export; True if this call finished it."""
    claimed = ReportExport.objects.filter(
        pk=export_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).update(status=ExportStatus.RUNNING)
    if not claimed:
        return False
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["dedupe_key", "recipient", "status", "created_at", "sent_at"])
    rows = 0
    with pin_to_primary():
        deliveries = EmailDelivery.objects.order_by("pk").values_list(
            "dedupe_key", "recipient", "status", "created_at", "sent_at")
        for row in deliveries:
            writer.writerow(row)
            rows += 1
    done = ReportExport.objects.filter(pk=export_id, status=ExportStatus.RUNNING).update(
        status=ExportStatus.DONE, content=buffer.getvalue(), rows=rows,
        finished_at=timezone.now())
    return done == 1


def report_export_fail(*, export_id: int, error: str) -> None:
    """Mark an unfinished export failed and drop any partial content (the cleanup path)."""
    ReportExport.objects.filter(
        pk=export_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).update(status=ExportStatus.FAILED, content="", rows=0, error=error[:2000],
             finished_at=timezone.now())


# ---- nightly maintenance ---------------------------------------------------------------------


def _run_claim(job: str, day: date) -> MaintenanceRun | None:
    """Claim the (job, day) run for this firing, or None if it is finished or held by another.

    A lease, not a check: the conditional UPDATE lets exactly one concurrent firing take an
    unfinished run whose lease is free or expired. The lease lasts the low queue's hard time
    limit, so a run whose worker was killed is claimed again by the redelivered task (which
    comes back only after the visibility timeout, longer than that limit).
    """
    try:
        with transaction.atomic():
            MaintenanceRun.objects.get_or_create(job=job, day=day)
    except IntegrityError:  # created concurrently by a twin firing: it exists now
        pass
    now = timezone.now()
    lease = timedelta(seconds=settings.CELERY_TIME_LIMITS["low"][1])
    claimed = (MaintenanceRun.objects.filter(job=job, day=day, finished_at=None)
               .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
               .update(claimed_until=now + lease))
    if not claimed:
        log.info("maintenance_skipped", job=job, day=str(day))
        return None
    with pin_to_primary():
        return MaintenanceRun.objects.get(job=job, day=day)


def _run_finish(run: MaintenanceRun, result: dict[str, int]) -> None:
    MaintenanceRun.objects.filter(pk=run.pk, finished_at=None).update(
        result=result, finished_at=timezone.now(), claimed_until=None)


def _run_release(run: MaintenanceRun) -> None:
    """Give the lease back after a failure, so the task's retry may claim the run at once."""
    MaintenanceRun.objects.filter(pk=run.pk, finished_at=None).update(claimed_until=None)


def maintenance_reconcile(*, day: date) -> dict[str, int] | None:
    """Re-enqueue deliveries still pending long after creation; once per day.

    The outbox makes a committed delivery's message durable up to the broker; this sweep is the
    net for a message lost after that (a broker that lost its data). Tasks are idempotent, so a
    row whose message is merely slow is harmless to enqueue again.
    """
    run = _run_claim("reconcile", day)
    if run is None:
        return None
    try:
        cutoff = timezone.now() - timedelta(
            seconds=settings.NOTIFICATIONS_RECONCILE_AFTER_SECONDS)
        with transaction.atomic():
            emails = list(EmailDelivery.objects.filter(
                status=DeliveryStatus.PENDING, created_at__lt=cutoff).values_list("pk", flat=True))
            hooks = list(WebhookDelivery.objects.filter(
                status=DeliveryStatus.PENDING, created_at__lt=cutoff).values_list("pk", flat=True))
            for pk in emails:
                _enqueue("email_send", pk)
            for pk in hooks:
                _enqueue("webhook_deliver", pk)
    except BaseException:
        _run_release(run)
        raise
    result = {"emails_requeued": len(emails), "webhooks_requeued": len(hooks)}
    _run_finish(run, result)
    log.info("maintenance_reconciled", **result)
    return result


def maintenance_cleanup(*, day: date) -> dict[str, int] | None:
    """Delete finished records older than the retention; once per day."""
    run = _run_claim("cleanup", day)
    if run is None:
        return None
    try:
        cutoff = timezone.now() - timedelta(days=settings.NOTIFICATIONS_RETENTION_DAYS)
        finished = [DeliveryStatus.SENT, DeliveryStatus.FAILED]
        result = {
            "emails": EmailDelivery.objects.filter(status__in=finished,
                                                   created_at__lt=cutoff).delete()[0],
            "webhooks": WebhookDelivery.objects.filter(status__in=finished,
                                                       created_at__lt=cutoff).delete()[0],
            "outbox": LocalOutboxMessage.objects.filter(created_at__lt=cutoff).delete()[0],
            "exports": ReportExport.objects.filter(
                status__in=[ExportStatus.DONE, ExportStatus.FAILED], created_at__lt=cutoff
            ).delete()[0],
            "task_outbox": outbox_cleanup(
                older_than=timedelta(days=settings.OUTBOX_RETENTION_DAYS)),
        }
    except BaseException:
        _run_release(run)
        raise
    _run_finish(run, result)
    log.info("maintenance_cleaned", **result)
    return result
