"""Per-replica circuit breakers: a replica that fails is skipped for a growing back-off.

Choosing a replica opens its connection and runs one round trip (through PgBouncer a login can
succeed while the server behind it is down). A failure opens that replica's breaker for
BACKOFF_INITIAL_SECONDS, doubling up to BACKOFF_MAX_SECONDS; once it runs out, one caller
probes the replica again while the others keep skipping it. The state is per process.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

import structlog
from django.db import DatabaseError, connections

PRIMARY = "default"
BACKOFF_INITIAL_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
PROBE_SECONDS = 5.0
"""While one caller probes a recovering replica, the others skip it this long at most."""

log = structlog.get_logger(__name__)


@dataclass
class _Breaker:
    failures: int = 0
    open_until: float = 0.0


_breakers: dict[str, _Breaker] = {}
_lock = threading.Lock()


def _claim(alias: str) -> bool:
    """True when this caller may use (or probe) the replica now."""
    with _lock:
        breaker = _breakers.setdefault(alias, _Breaker())
        now = time.monotonic()
        if now < breaker.open_until:
            return False
        if breaker.failures:
            breaker.open_until = now + PROBE_SECONDS  # half-open: only this caller probes
        return True


def replica_mark_failed(alias: str, error: BaseException) -> None:
    """Open the replica's breaker for the next back-off step."""
    with _lock:
        breaker = _breakers.setdefault(alias, _Breaker())
        breaker.failures += 1
        backoff = min(BACKOFF_MAX_SECONDS, BACKOFF_INITIAL_SECONDS * 2 ** (breaker.failures - 1))
        breaker.open_until = time.monotonic() + backoff
    # The class only: the message carries the replica's host and port.
    log.warning("replica_unavailable", alias=alias, error=type(error).__name__,
                skip_seconds=backoff)


def replica_mark_ok(alias: str) -> None:
    """Close the replica's breaker."""
    with _lock:
        _breakers[alias] = _Breaker()


def replica_failures(alias: str) -> int:
    """Consecutive failed attempts on the replica (0 once it answered again)."""
    with _lock:
        breaker = _breakers.get(alias)
        return breaker.failures if breaker is not None else 0


def replica_open(alias: str) -> bool:
    """True while the replica's breaker skips it."""
    with _lock:
        breaker = _breakers.get(alias)
        return breaker is not None and time.monotonic() < breaker.open_until


def _usable(alias: str) -> bool:
    connection = connections[alias]
    if connection.connection is not None:
        return True  # connected (and checked) earlier in this request or unit of work
    if not _claim(alias):
        return False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        connection.close()
        replica_mark_failed(alias, exc)
        return False
    replica_mark_ok(alias)
    return True


def replica_choose(replicas: list[str], *, preferred: str | None) -> str:
    """A working replica (`preferred` first if it still works), else the primary."""
    if preferred == PRIMARY:
        return PRIMARY  # this request already fell back: keep its reads monotonic
    candidates = random.sample(replicas, len(replicas))
    if preferred is not None:
        candidates.remove(preferred)
        candidates.insert(0, preferred)
    for alias in candidates:
        if _usable(alias):
            return alias
    return PRIMARY
