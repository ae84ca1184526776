"""The transactional outbox: enqueue a task by writing a row in the caller's transaction.

Publishing to the broker inside a request (`transaction.on_commit(task.delay)`) ties the
request to the broker: a hung broker blocks it for the socket timeout, then fails it after the
row committed, and drops the hooks queued after it. Here the request only inserts a row; the
relay (`core.relay`, process type `relay`) publishes it later, at least once.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from core.models import OutboxMessage
from core.routing import pin_to_primary

ERROR_NOT_ATOMIC = "outbox_enqueue must run inside transaction.atomic() (with the business row)"


def outbox_enqueue(*, task_name: str, args: list[int | str]) -> OutboxMessage:
    """Owe the broker one message for `task_name(*args)`; it exists only if the caller commits."""
    if not connection.in_atomic_block:
        # Outside a transaction the row would commit alone, before (or without) its business row.
        raise RuntimeError(ERROR_NOT_ATOMIC)
    return OutboxMessage.objects.create(task_name=task_name, args=list(args))


def outbox_enqueue_many(*, task_name: str, args_list: list[list[int | str]]) -> int:
    """Owe the broker one `task_name` message per args, in one INSERT; return how many."""
    if not connection.in_atomic_block:
        raise RuntimeError(ERROR_NOT_ATOMIC)
    rows = [OutboxMessage(task_name=task_name, args=list(args)) for args in args_list]
    return len(OutboxMessage.objects.bulk_create(rows))


def outbox_lag_seconds() -> float:
    """Age of the oldest unsent message in seconds (0.0 when everything is sent)."""
    with pin_to_primary():
        oldest = OutboxMessage.objects.filter(sent_at__isnull=True).aggregate(
            oldest=Min("created_at"))["oldest"]
    return 0.0 if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())


def outbox_unsent_count() -> int:
    """How many messages wait for the relay."""
    with pin_to_primary():
        return OutboxMessage.objects.filter(sent_at__isnull=True).count()


def outbox_cleanup(*, older_than: timedelta) -> int:
    """Delete sent messages older than `older_than`; return how many."""
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        deleted, _ = OutboxMessage.objects.filter(sent_at__isnull=False,
                                                  created_at__lt=cutoff).delete()
    return deleted
