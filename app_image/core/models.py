"""The platform's own data: idempotency records (no business data lives in core)."""

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
