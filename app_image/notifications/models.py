"""Notifications' data: one row per intended delivery (its dedupe key is unique), the local
provider's outbox, report exports and the record of each nightly maintenance run."""

from django.contrib.postgres.indexes import BrinIndex
from django.db import models


class DeliveryStatus(models.TextChoices):
    """Where a delivery is; only conditional updates move it forward."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def _pending_index(name: str) -> models.Index:
    # The nightly reconciliation asks for deliveries still pending past a cutoff: a partial
    # index over the few pending rows, not the millions already sent.
    return models.Index(fields=["created_at"], name=name,
                        condition=models.Q(status=DeliveryStatus.PENDING))


class EmailDelivery(models.Model):
    """An email the platform owes someone; `dedupe_key` makes it once per business event."""

    dedupe_key = models.CharField(max_length=200, unique=True)
    recipient = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    provider_message_id = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [_pending_index("emaildelivery_pending_idx")]

    def __str__(self) -> str:
        return self.dedupe_key


class LocalOutboxMessage(models.Model):
    """What the local email provider 'sent' (its idempotency key is unique, like a real API's)."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    sender = models.EmailField()
    recipient = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Append-only in time order: a BRIN index (a few pages) serves the nightly cleanup's
        # `created_at < cutoff` where a B-tree would grow with every message.
        indexes = [BrinIndex(fields=["created_at"], name="localoutbox_created_brin")]

    def __str__(self) -> str:
        return self.idempotency_key


class WebhookEndpoint(models.Model):
    """A subscriber URL that receives the platform's events."""

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event owed to one endpoint; `dedupe_key` (event id + endpoint) is unique."""

    dedupe_key = models.CharField(max_length=200, unique=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries")
    event = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [_pending_index("webhookdelivery_pending_idx")]

    def __str__(self) -> str:
        return self.dedupe_key


class ExportStatus(models.TextChoices):
    """Where an export is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ReportExport(models.Model):
    """A CSV report produced in the background (the `low` queue)."""

    kind = models.CharField(max_length=50)
    status = models.CharField(max_length=10, choices=ExportStatus.choices,
                              default=ExportStatus.QUEUED)
    rows = models.PositiveIntegerField(default=0)
    content = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"export {self.pk} ({self.kind})"


class MaintenanceRun(models.Model):
    """One nightly job for one day: unique, and leased, so a second firing changes nothing."""

    job = models.CharField(max_length=50)
    day = models.DateField()
    result = models.JSONField(default=dict)
    finished_at = models.DateTimeField(null=True)
    claimed_until = models.DateTimeField(null=True)
    """The lease of the firing running it now (None: free); see services._run_claim."""

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "day"], name="maintenance_once")]

    def __str__(self) -> str:
        return f"{self.job} {self.day}"
