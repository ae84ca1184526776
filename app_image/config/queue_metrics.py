"""Queue length per queue, read from the broker at scrape time: the number KEDA scales on.

KEDA's Redis list scaler reads LLEN of the list named after the queue; this reads the same
list, so a dashboard shows exactly what the autoscaler sees (queued, not reserved or running).
A broker that does not answer yields `quintet_celery_broker_up 0` and no lengths.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.backoff import NoBackoff
from redis.retry import Retry


class QueueLengthCollector(Collector):
    """LLEN of each queue's list on the broker Redis."""

    def __init__(self, *, broker_url: str, queues: Sequence[str]) -> None:
        self.queues = tuple(queues)
        self.client = redis.Redis.from_url(broker_url, socket_timeout=1.0,
                                           socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One pipeline of LLENs per scrape."""
        up = GaugeMetricFamily("quintet_celery_broker_up", "1 when the broker answered LLEN.")
        length = GaugeMetricFamily("quintet_celery_queue_length",
                                   "Messages waiting in the queue (LLEN, as KEDA sees it).",
                                   labels=["queue"])
        try:
            pipe = self.client.pipeline(transaction=False)
            for queue in self.queues:
                pipe.llen(queue)
            lengths = pipe.execute()
        except (redis.RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for queue, value in zip(self.queues, lengths, strict=True):
            length.add_metric([queue], float(value))
        yield up
        yield length
