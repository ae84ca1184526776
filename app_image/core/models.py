"""The platform's own tables: idempotency records and the task outbox (no business data)."""

from django.db import models


class IdempotencyRecord(models.Model):
    """One Idempotency-Key used by one principal on one endpoint, and the response it got.

    The unique (principal, endpoint, key) is what makes a key run at most once: the row is
    inserted in the same transaction as the request's effect, so a concurrent duplicate waits on
    it and a rolled-back request leaves no record. The fingerprint tells a retry from a reuse.
    """

    principal = models.CharField(max_length=100)
    endpoint = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "endpoint", "key"],
                                    name="idempotency_key_once_per_principal"),
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.endpoint} {self.key}"


class OutboxMessage(models.Model):
    """A task message owed to the broker, written in the same transaction as the business row.

    The relay (`entrypoint.sh relay`) publishes unsent rows and sets `sent_at`; rows are kept
    until the nightly cleanup so an operator can see what was published and when.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True)
    attempts = models.PositiveIntegerField(default=0)
    """Publish attempts that failed (broker down or hung); the relay keeps trying."""

    class Meta:
        indexes = [
            # The relay's scan and the lag query read only unsent rows, oldest first.
            models.Index(fields=["id"], name="outbox_unsent",
                         condition=models.Q(sent_at__isnull=True)),
            models.Index(fields=["created_at"], name="outbox_created"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name}{self.args}"

    @property
    def task_id(self) -> str:
        """The Celery task id: stable per row, so a republished row is the same task."""
        return f"outbox-{self.pk}"
