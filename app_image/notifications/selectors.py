"""Notification reads (tests, the bench and operators)."""

from __future__ import annotations

from notifications.models import (
    EmailDelivery,
    LocalOutboxMessage,
    MaintenanceRun,
    ReportExport,
    WebhookDelivery,
)


def email_delivery_get(*, dedupe_key: str) -> EmailDelivery | None:
    """One email delivery by its dedupe key."""
    return EmailDelivery.objects.filter(dedupe_key=dedupe_key).first()


def outbox_count(*, idempotency_key: str | None = None) -> int:
    """Messages the local provider sent (for one key, if given)."""
    messages = LocalOutboxMessage.objects.all()
    if idempotency_key is not None:
        messages = messages.filter(idempotency_key=idempotency_key)
    return messages.count()


def webhook_delivery_get(*, delivery_id: int) -> WebhookDelivery | None:
    """One webhook delivery."""
    return WebhookDelivery.objects.filter(pk=delivery_id).first()


def report_export_get(*, export_id: int) -> ReportExport | None:
    """One report export."""
    return ReportExport.objects.filter(pk=export_id).first()


def maintenance_runs(*, job: str) -> list[MaintenanceRun]:
    """Every recorded run of a nightly job, oldest first."""
    return list(MaintenanceRun.objects.filter(job=job).order_by("day"))
