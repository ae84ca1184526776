"""Read-through caching: single-flight rebuilds, generations, stale-while-revalidate, degradation.

- `cache_read_through`: one rebuild per stale key across all processes (a Redis lock). An entry
  is fresh while its generation is the family's current one and its TTL has not run out; past
  that it is kept `stale_seconds` longer and served while one caller rebuilds it.
- A waiter whose wait runs out (the builder hangs or was killed) serves the stale value; with
  none, it takes over the lock once the lock expires (exactly one caller can), and at most
  FALLBACK_CONCURRENCY fallback rebuilds run at once per process.
- Every key it writes expires: entries after ttl + stale_seconds, locks after lock_seconds,
  counters after a week. Django's `timeout=None` (never expire) is never passed.
- When Redis fails, reads go to the database without caching, and a short circuit breaker skips
  Redis for a few seconds, so an outage costs milliseconds per request, not a timeout each.
- `cache_invalidate_on_commit`: a write bumps its families' generations once it commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis
import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django_redis import get_redis_connection
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import LockError

from config.metrics import cache_lookup_record
from core.generations import generation_bump, generation_current
from core.routing import pin_to_primary, routing_state

T = TypeVar("T")
log = structlog.get_logger(__name__)

REDIS_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionInterrupted, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
    OSError,
)
BREAKER_SECONDS = 5.0
REBUILD_COUNTER_PREFIX = "q:rebuilds:"
COUNTER_TTL_SECONDS = 7 * 24 * 3600
STALE_SECONDS = 600
"""How long past its freshness an entry may still be served while it is rebuilt."""
FALLBACK_CONCURRENCY = 1
"""Fallback rebuilds (wait ran out, no stale value) running at once in one process."""
BUILD_BUSY = "the page is being rebuilt; retry shortly"

_MISSING = object()
_breaker = threading.Lock()
_redis_down_until = 0.0
_fallbacks = threading.BoundedSemaphore(FALLBACK_CONCURRENCY)


class CacheBuildBusy(RuntimeError):
    """No fresh or stale value, the builder is stuck and the fallback cap is reached."""


def cache_available() -> bool:
    """False while the breaker is open after a recent Redis failure."""
    return time.monotonic() >= _redis_down_until


def cache_mark_down(error: BaseException) -> None:
    """Open the breaker: skip Redis for BREAKER_SECONDS."""
    global _redis_down_until
    with _breaker:
        _redis_down_until = time.monotonic() + BREAKER_SECONDS
    # The error's class only: its text holds hosts and ports.
    log.warning("cache_unavailable", error=type(error).__name__, skip_seconds=BREAKER_SECONDS)


def cache_rebuild_count(*, key: str) -> int:
    """How many times `key` was rebuilt (a counter in the cache Redis, expiring like the rest)."""
    return int(get_redis_connection("default").get(REBUILD_COUNTER_PREFIX + key) or 0)


def _count_rebuild(key: str) -> None:
    pipe = get_redis_connection("default").pipeline()
    pipe.incr(REBUILD_COUNTER_PREFIX + key)
    pipe.expire(REBUILD_COUNTER_PREFIX + key, COUNTER_TTL_SECONDS)
    pipe.execute()


def _rebuild(key: str, build: Callable[[], T]) -> T:
    # Rebuilds that get stored read the primary: right after a write a lagging replica would
    # still show the old data, under the new generation.
    with pin_to_primary():
        value = build()
    try:
        _count_rebuild(key)
    except REDIS_ERRORS as exc:
        cache_mark_down(exc)
    return value


def _store(key: str, generation: int, value: Any, ttl: int, stale_seconds: int) -> None:
    cache.set(key, (generation, time.time() + ttl, value), ttl + stale_seconds)


def _fresh(entry: Any, generation: int) -> bool:
    return entry[0] == generation and time.time() < entry[1]


def _client_must_see_writes() -> bool:
    state = routing_state()
    return state is not None and (state.pinned or state.wrote)


def _build_and_store(key: str, family: str, build: Callable[[], T], ttl: int,
                     stale_seconds: int) -> T:
    # The generation is read before the build: a write committing during the build bumps it,
    # so this value is stored under the old generation and never served as fresh.
    generation = generation_current(family=family)
    value = _rebuild(key, build)
    _store(key, generation, value, ttl, stale_seconds)
    return value


def _locked_build(lock: Any, key: str, family: str, build: Callable[[], T], ttl: int,
                  stale_seconds: int) -> T:
    try:
        entry = cache.get(key, _MISSING)  # rebuilt between our read and our lock
        if entry is not _MISSING and _fresh(entry, generation_current(family=family)):
            return entry[2]  # type: ignore[no-any-return]
        return _build_and_store(key, family, build, ttl, stale_seconds)
    finally:
        try:
            lock.release()
        except (LockError, *REDIS_ERRORS):
            pass  # expired (another caller took over) or Redis gone: the lock's TTL cleans up


def _fallback(key: str, family: str, build: Callable[[], T], ttl: int, stale_seconds: int,
              queue_seconds: float) -> T:
    # The builder is stuck and there is nothing stale to serve: rebuild, but only a few at once;
    # whoever queued behind a fallback takes the value it stored. A queue that does not move
    # within a build's allowance (the lock's lifetime) means the database is stuck too: 503.
    if not _fallbacks.acquire(timeout=queue_seconds):
        raise CacheBuildBusy(BUILD_BUSY)
    try:
        entry = cache.get(key, _MISSING)
        if entry is not _MISSING and _fresh(entry, generation_current(family=family)):
            return entry[2]  # type: ignore[no-any-return]
        return _build_and_store(key, family, build, ttl, stale_seconds)
    finally:
        _fallbacks.release()


def cache_read_through(
    *, key: str, build: Callable[[], T], family: str | None = None, ttl: int | None = None,
    stale_seconds: int = STALE_SECONDS, wait_seconds: float = 2.0, lock_seconds: int = 10,
) -> T:
    """The cached value of `key` (family `family`, default the key), rebuilt at most once at a time.

    `ttl` defaults to CACHE_TTL_SECONDS; `lock_seconds` bounds how long a dead builder blocks
    the key before another caller takes over.
    """
    ttl = settings.CACHE_TTL_SECONDS if ttl is None else ttl
    if ttl <= 0:
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
    family = family or key
    if not cache_available():
        cache_lookup_record(key=key, hit=False)
        return build()  # nothing gets stored: the replica (or the request's pin) is fine
    try:
        entry = cache.get(key, _MISSING)
        hit = entry is not _MISSING and _fresh(entry, generation_current(family=family))
        cache_lookup_record(key=key, hit=hit)
        if hit:
            return entry[2]  # type: ignore[no-any-return]
        lock = cache.lock(f"lock:{key}", timeout=lock_seconds, thread_local=False)
        if lock.acquire(blocking=False):
            return _locked_build(lock, key, family, build, ttl, stale_seconds)
        if entry is not _MISSING and not _client_must_see_writes():
            return entry[2]  # type: ignore[no-any-return]  # stale while one caller rebuilds
        deadline = time.monotonic() + wait_seconds
        pause = 0.005
        while time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
            fresh = cache.get(key, _MISSING)
            if fresh is not _MISSING and _fresh(fresh, generation_current(family=family)):
                return fresh[2]  # type: ignore[no-any-return]
            if lock.acquire(blocking=False):  # the holder's lock expired: take over
                return _locked_build(lock, key, family, build, ttl, stale_seconds)
        log.warning("cache_wait_timeout", key=key)
        if entry is not _MISSING and not _client_must_see_writes():
            return entry[2]  # type: ignore[no-any-return]  # stale beats a stampede
        return _fallback(key, family, build, ttl, stale_seconds, lock_seconds)
    except REDIS_ERRORS as exc:
        cache_mark_down(exc)
        return build()


def cache_generations_bump(*, families: Iterable[str]) -> None:
    """Start a new generation of each family now; a Redis failure is logged (TTLs backstop)."""
    families = list(families)
    try:
        for family in families:
            generation_bump(family=family)
    except REDIS_ERRORS as exc:
        cache_mark_down(exc)
        log.warning("cache_invalidation_failed", families=families)


def cache_invalidate_on_commit(*, families: Iterable[str]) -> None:
    """Bump the families' generations once the current transaction commits (at once outside)."""
    families = list(families)
    transaction.on_commit(lambda: cache_generations_bump(families=families))
