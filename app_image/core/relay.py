"""The outbox relay: publish unsent outbox rows to Celery and mark them sent (process `relay`).

Each batch is claimed with SELECT ... FOR UPDATE SKIP LOCKED, published, then marked sent in
the same transaction. So two relays never publish the same row at once (a second replica is
safe, merely idle), and a relay that dies after publishing but before committing leaves the
rows unsent: they are published again. Delivery is at least once; every task is idempotent.
A broker that is down or hung fails the batch (socket timeout), the rows stay unsent and the
relay retries with backoff; requests never wait for the broker.
"""

from __future__ import annotations

import contextlib
import signal
import time
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from config import metrics
from config.metrics_server import metrics_serve
from config.worker_health import heartbeat_path
from core.models import OutboxMessage
from core.outbox import outbox_lag_seconds

log = structlog.get_logger("quintet.relay")
PUBLISH_ERRORS = (KombuError, RedisError, OSError)
"""What a down, hung or restarting broker raises from a publish."""


@dataclass
class RelayState:
    """Loop state: stop flag, consecutive failures, when the lag was last logged."""

    stopping: bool = False
    failures: int = 0
    lag_logged_at: float = 0.0


def _publish(messages: list[OutboxMessage]) -> None:
    """Publish every message on one fresh broker connection (no hidden retries: we retry)."""
    from config.celery_app import app

    with app.connection_for_write() as connection, connection.Producer() as producer:
        for message in messages:
            app.send_task(message.task_name, args=message.args, task_id=message.task_id,
                          producer=producer, retry=False)


def relay_batch(*, size: int) -> int:
    """Publish and mark one batch of the oldest unsent rows; return how many were sent."""
    with transaction.atomic():
        batch = list(OutboxMessage.objects.select_for_update(skip_locked=True)
                     .filter(sent_at__isnull=True).order_by("id")[:size])
        if not batch:
            return 0
        _publish(batch)
        OutboxMessage.objects.filter(pk__in=[m.pk for m in batch]).update(sent_at=timezone.now())
    metrics.OUTBOX_PUBLISHED.inc(len(batch))
    return len(batch)


def _note_failure(exc: BaseException) -> None:
    with transaction.atomic():
        oldest = list(OutboxMessage.objects.filter(sent_at__isnull=True)
                      .order_by("id").values_list("pk", flat=True)[:settings.OUTBOX_BATCH_SIZE])
        OutboxMessage.objects.filter(pk__in=oldest).update(attempts=F("attempts") + 1)
    log.warning("outbox_publish_failed", error=f"{type(exc).__name__}: {exc}")


def relay_step(state: RelayState) -> float:
    """One iteration: publish a batch; return how long to sleep before the next one."""
    heartbeat_path().touch()
    try:
        sent = relay_batch(size=settings.OUTBOX_BATCH_SIZE)
    except PUBLISH_ERRORS as exc:
        state.failures += 1
        metrics.OUTBOX_PUBLISH_FAILURES.inc()
        with contextlib.suppress(DatabaseError):  # the database is down too: the next step logs it
            _note_failure(exc)
        return min(settings.OUTBOX_RETRY_MAX_SECONDS, 0.25 * 2 ** min(state.failures, 8))
    except DatabaseError as exc:
        state.failures += 1
        log.warning("outbox_database_error", error=f"{type(exc).__name__}: {exc}")
        return min(settings.OUTBOX_RETRY_MAX_SECONDS, 0.25 * 2 ** min(state.failures, 8))
    state.failures = 0
    now = time.monotonic()
    if sent or now - state.lag_logged_at >= settings.OUTBOX_LAG_LOG_SECONDS:
        state.lag_logged_at = now
        lag = outbox_lag_seconds()
        metrics.OUTBOX_LAG.set(lag)
        log.info("outbox_relayed", sent=sent, lag_seconds=round(lag, 3))
    # After a batch go again at once (more may wait); poll only when there was nothing.
    return 0.0 if sent else settings.OUTBOX_POLL_SECONDS


def relay_run() -> None:
    """Run the relay until SIGTERM or SIGINT (it finishes the batch in hand, then exits)."""
    state = RelayState()

    def stop(*_: Any) -> None:
        state.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    metrics_serve()
    log.info("outbox_relay_started", batch=settings.OUTBOX_BATCH_SIZE,
             poll_seconds=settings.OUTBOX_POLL_SECONDS)
    while not state.stopping:
        pause = relay_step(state)
        deadline = time.monotonic() + pause
        while not state.stopping and time.monotonic() < deadline:
            time.sleep(min(0.05, pause))
    heartbeat_path().unlink(missing_ok=True)
    log.info("outbox_relay_stopped")
