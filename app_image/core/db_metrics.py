"""Database metrics: every SQL statement's time and errors, per alias (Django's execute wrapper).

Installed on each new connection (the `connection_created` signal), so it covers every alias,
the replicas included, and every connection a thread or a Celery child opens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from config.metrics import DB_QUERY_DURATION, DB_QUERY_ERRORS

WRAPPER_ATTRIBUTE = "_quintet_query_metrics"


class QueryTimer:
    """An execute wrapper observing the duration of each statement of one connection."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool,
                 context: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        except Exception:
            DB_QUERY_ERRORS.labels(alias=self.alias).inc()
            raise
        finally:
            DB_QUERY_DURATION.labels(alias=self.alias).observe(time.perf_counter() - started)


def query_metrics_install(*, connection: Any, **_: Any) -> None:
    """Add the timer to a new connection once (connection_created handler)."""
    if getattr(connection, WRAPPER_ATTRIBUTE, False):
        return
    connection.execute_wrappers.append(QueryTimer(connection.alias))
    setattr(connection, WRAPPER_ATTRIBUTE, True)
