"""The email provider interface, its errors, and the local provider (records to the database).

A provider takes an idempotency key: real APIs that accept one make a redelivered task harmless
at their end too; the local provider enforces it with a unique column.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from notifications.models import LocalOutboxMessage


class ProviderError(Exception):
    """A send failed for a reason worth retrying with backoff."""


class ProviderRateLimited(ProviderError):
    """The provider asked us to slow down; retry after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after}s")
        self.retry_after = retry_after


class EmailProvider(Protocol):
    """Sends one email; returns the provider's message id. Raises ProviderError subclasses."""

    def send(self, *, idempotency_key: str, sender: str, recipient: str, subject: str,
             body: str) -> str:
        """Send (or, for a key already seen, do nothing) and return the message id."""
        ...


class LocalEmailProvider:
    """Records each message in LocalOutboxMessage, once per idempotency key."""

    def send(self, *, idempotency_key: str, sender: str, recipient: str, subject: str,
             body: str) -> str:
        """Upsert the outbox row and return its id."""
        message, _ = LocalOutboxMessage.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={"sender": sender, "recipient": recipient, "subject": subject,
                      "body": body},
        )
        return f"local-{message.pk}"


def email_provider() -> EmailProvider:
    """The configured provider (settings.NOTIFICATIONS_EMAIL_PROVIDER)."""
    return import_string(settings.NOTIFICATIONS_EMAIL_PROVIDER)()
