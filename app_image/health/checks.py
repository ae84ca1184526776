"""The deep report (/healthz): every dependency, run concurrently and bounded in time.

What it returns names the dependency and a verdict (ok, down, timeout), never an address or an
exception's text: those go to the log, which only operators read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Any

import redis
import structlog
from django.conf import settings
from django.db import connections
from redis.backoff import NoBackoff
from redis.retry import Retry

CHECK_BUDGET_SECONDS = 2.0
OK, DOWN, TIMEOUT = "ok", "down", "timeout"
_executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="healthz")
log = structlog.get_logger(__name__)


def _database(alias: str) -> Callable[[], None]:
    def check() -> None:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            connections[alias].close()  # never keep a connection a restart would break

    return check


def _redis(url: str) -> Callable[[], None]:
    def check() -> None:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                      retry=Retry(NoBackoff(), 0))
        try:
            client.ping()
        finally:
            client.close()

    return check


def health_checks() -> dict[str, Callable[[], None]]:
    """Name -> check for the primary, each replica, the cache and the broker."""
    checks = {"primary": _database("default")}
    for alias in settings.REPLICA_DATABASES:
        checks[alias] = _database(alias)
    checks["cache"] = _redis(settings.CACHES["default"]["LOCATION"])
    checks["broker"] = _redis(settings.BROKER_URL)
    return checks


def health_report(*, budget: float = CHECK_BUDGET_SECONDS) -> dict[str, Any]:
    """Run every check at once; anything not done within `budget` seconds counts as failed."""
    started = time.perf_counter()
    futures = {name: _executor.submit(check) for name, check in health_checks().items()}
    futures_wait(futures.values(), timeout=budget)
    results: dict[str, str] = {}
    for name, future in futures.items():
        if not future.done():
            results[name] = TIMEOUT
        elif future.exception() is not None:
            results[name] = DOWN
            log.warning("dependency_down", dependency=name,
                        error=type(future.exception()).__name__)
        else:
            results[name] = OK
    failed = sorted(name for name, result in results.items() if result != OK)
    return {"status": "fail" if failed else "ok", "failed": failed, "checks": results,
            "elapsed_ms": int((time.perf_counter() - started) * 1000)}
