"""Queue age: the time from enqueue (or ETA) to the start of each task, per queue.

Workers push one sample per task start into a capped Redis list per queue on the broker Redis
(`quintet:queue_age:<queue>`, newest first, at most SAMPLES_KEPT). The bench and operators read
percentiles with `queue_age_summary` or `python -m config.queue_age` (JSON per queue).
A failure to record is logged and ignored: metrics never fail a task.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import redis
import structlog
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

KEY_PREFIX = "quintet:queue_age:"
SAMPLES_KEPT = 10_000
log = structlog.get_logger(__name__)
_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.BROKER_URL, socket_timeout=0.5,
                                       socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    return _client


def queue_age_record(*, queue: str, age_ms: float) -> None:
    """Add one sample (milliseconds) for `queue`."""
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.lpush(KEY_PREFIX + queue, f"{age_ms:.1f}")
        pipe.ltrim(KEY_PREFIX + queue, 0, SAMPLES_KEPT - 1)
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.warning("queue_age_not_recorded", queue=queue, error=str(exc))


def queue_age_samples(*, queue: str, limit: int = SAMPLES_KEPT) -> list[float]:
    """The newest samples of `queue` in milliseconds, newest first."""
    return [float(v) for v in _redis().lrange(KEY_PREFIX + queue, 0, limit - 1)]


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return sorted_values[index]


def queue_age_summary(*, queue: str, limit: int = SAMPLES_KEPT) -> dict[str, Any]:
    """Count, p50, p95 and max (ms) over the newest `limit` samples of `queue`."""
    values = sorted(queue_age_samples(queue=queue, limit=limit))
    if not values:
        return {"queue": queue, "count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    return {"queue": queue, "count": len(values), "p50_ms": _percentile(values, 0.50),
            "p95_ms": _percentile(values, 0.95), "max_ms": values[-1]}


def queue_age_reset(*, queue: str) -> None:
    """Drop the samples of `queue` (a bench run starts clean)."""
    _redis().delete(KEY_PREFIX + queue)


def main() -> int:
    """Print one JSON summary per queue."""
    import django

    django.setup()
    for queue in settings.CELERY_QUEUES:
        print(json.dumps(queue_age_summary(queue=queue)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
