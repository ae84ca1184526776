"""Read-through caching with single-flight rebuilds, explicit degradation and invalidation.

- `cache_read_through`: one rebuild per cold key across all processes (a Redis lock; the other
  readers wait for the value instead of stampeding the database).
- Keys carry the CACHE_KEY_VERSION (Django's cache VERSION): bump it to drop everything.
- When Redis fails, reads go straight to the database and a short circuit breaker skips Redis
  for a few seconds, so an outage costs milliseconds per request, not a timeout each.
- `cache_invalidate_on_commit`: writes drop the keys they affect once the transaction commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import redis
import structlog
from django.core.cache import cache
from django.db import transaction
from django_redis import get_redis_connection
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import LockError

from config.metrics import cache_lookup_record
from core.routing import pin_to_primary

T = TypeVar("T")
log = structlog.get_logger(__name__)

REDIS_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionInterrupted, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
    OSError,
)
BREAKER_SECONDS = 5.0
REBUILD_COUNTER_PREFIX = "q:rebuilds:"
_MISSING = object()
_breaker = threading.Lock()
_redis_down_until = 0.0


def cache_available() -> bool:
    """False while the breaker is open after a recent Redis failure."""
    return time.monotonic() >= _redis_down_until


def cache_mark_down(error: BaseException) -> None:
    """Open the breaker: skip Redis for BREAKER_SECONDS."""
    global _redis_down_until
    with _breaker:
        _redis_down_until = time.monotonic() + BREAKER_SECONDS
    log.warning("cache_unavailable", error=str(error), skip_seconds=BREAKER_SECONDS)


def cache_rebuild_count(*, key: str) -> int:
    """How many times `key` was rebuilt (an unversioned counter in the cache Redis)."""
    return int(get_redis_connection("default").get(REBUILD_COUNTER_PREFIX + key) or 0)


def _rebuild(key: str, build: Callable[[], T]) -> T:
    # Rebuilds read the primary: they are rare (single-flight), and a rebuild right after an
    # invalidation must not cache what a lagging replica still shows.
    with pin_to_primary():
        value = build()
    if cache_available():
        try:
            get_redis_connection("default").incr(REBUILD_COUNTER_PREFIX + key)
        except REDIS_ERRORS as exc:
            cache_mark_down(exc)
    return value


def cache_read_through(
    *, key: str, build: Callable[[], T], ttl: int | None = None,
    wait_seconds: float = 5.0, lock_seconds: int = 30,
) -> T:
    """Return the cached value of `key`, building it at most once across concurrent misses."""
    if not cache_available():
        cache_lookup_record(key=key, hit=False)
        return _rebuild(key, build)
    try:
        value = cache.get(key, _MISSING)
        cache_lookup_record(key=key, hit=value is not _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        lock = cache.lock(f"lock:{key}", timeout=lock_seconds, thread_local=False)
        if lock.acquire(blocking=False):
            try:
                value = cache.get(key, _MISSING)  # filled between our miss and our lock
                if value is not _MISSING:
                    return value  # type: ignore[return-value]
                built = _rebuild(key, build)
                cache.set(key, built, ttl)
                return built
            finally:
                try:
                    lock.release()
                except (LockError, *REDIS_ERRORS):
                    pass  # expired or Redis gone: the lock's TTL cleans up
        deadline = time.monotonic() + wait_seconds
        pause = 0.005
        while time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
            value = cache.get(key, _MISSING)
            if value is not _MISSING:
                return value  # type: ignore[return-value]
        log.warning("cache_wait_timeout", key=key)
        return _rebuild(key, build)  # the builder died or hangs: serve the request anyway
    except REDIS_ERRORS as exc:
        cache_mark_down(exc)
        return _rebuild(key, build)


def cache_delete_many(*, keys: Iterable[str]) -> None:
    """Delete keys now; a Redis failure is logged (the TTL backstop expires them)."""
    keys = list(keys)
    try:
        cache.delete_many(keys)
    except REDIS_ERRORS as exc:
        cache_mark_down(exc)
        log.warning("cache_invalidation_failed", keys=keys)


def cache_invalidate_on_commit(*, keys: Iterable[str]) -> None:
    """Delete keys once the current transaction commits (at once outside a transaction)."""
    keys = list(keys)
    transaction.on_commit(lambda: cache_delete_many(keys=keys))
