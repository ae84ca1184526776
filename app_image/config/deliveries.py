"""Delivery counting and the dead-letter list, on the broker Redis.

A worker whose child dies mid-task (OOM kill, segfault, SIGKILL) gets the message back
(reject_on_worker_lost) and runs it again: right for a crash, an endless loop for a task that
is itself what kills the child. Each start of an attempt (task id + retry number) increments a
counter before the task body runs; past CELERY_MAX_DELIVERIES the task is not run but recorded
in the dead-letter list, logged (`task_dead_lettered`) and counted.

    quintet:deliveries:<task id>:<retries>   the counter (expires after a day)
    quintet:dead_letter                       JSON entries, newest first (capped)
    quintet:metrics:dead_lettered             hash: task name -> how many were dead-lettered

`python -m config.deliveries` prints the dead-letter count per task and the newest entries.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

COUNTER_PREFIX = "quintet:deliveries:"
DEAD_LETTER_KEY = "quintet:dead_letter"
DEAD_LETTER_METRIC_KEY = "quintet:metrics:dead_lettered"
DEAD_LETTER_KEPT = 10_000
COUNTER_TTL_SECONDS = 24 * 3600
_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.BROKER_URL, socket_timeout=2,
                                       socket_connect_timeout=2, retry=Retry(NoBackoff(), 0),
                                       decode_responses=True)
    return _client


def delivery_count_increment(*, task_id: str, retries: int) -> int:
    """Count one more start of this attempt and return the count (1 on a first delivery)."""
    key = f"{COUNTER_PREFIX}{task_id}:{retries}"
    pipe = _redis().pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, COUNTER_TTL_SECONDS)
    count, _ = pipe.execute()
    return int(count)


def dead_letter_record(*, task_id: str, task_name: str, queue: str, args: list[Any],
                       kwargs: dict[str, Any], deliveries: int) -> None:
    """Keep the message in the dead-letter list and count it."""
    entry = json.dumps({"task_id": task_id, "task": task_name, "queue": queue, "args": args,
                        "kwargs": kwargs, "deliveries": deliveries, "at": time.time()},
                       default=str)
    pipe = _redis().pipeline(transaction=True)
    pipe.lpush(DEAD_LETTER_KEY, entry)
    pipe.ltrim(DEAD_LETTER_KEY, 0, DEAD_LETTER_KEPT - 1)
    pipe.hincrby(DEAD_LETTER_METRIC_KEY, task_name, 1)
    pipe.execute()


def dead_letter_summary(*, newest: int = 20) -> dict[str, Any]:
    """Dead-lettered count per task and the newest entries."""
    client = _redis()
    counts = {name: int(n) for name, n in client.hgetall(DEAD_LETTER_METRIC_KEY).items()}
    entries = [json.loads(raw) for raw in client.lrange(DEAD_LETTER_KEY, 0, newest - 1)]
    return {"dead_lettered": counts, "newest": entries}


def main() -> int:
    """Print the summary as JSON."""
    import django

    django.setup()
    print(json.dumps(dead_letter_summary()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
