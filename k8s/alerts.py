"""The SLOs and alerting rules, defined once: PrometheusRule objects in the cluster, a rule file
in `make up`, the SLO table of `make slo` / `make bench`, and docs/observability.md.

The figures are the reference article's: web p50 20-60 ms and p95 120-300 ms, priority queue
wait p95 under 5 s and default under 60 s, database connections under 50 % of the pool, cache
hit rate above 85 %. The rest (5xx ratio, low queue wait, dead letters, beat) are the kit's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RULE_GROUP = "quintet.slo"
WINDOW = "5m"
QUEUE_WAIT_TARGET_SECONDS = {"priority": 5.0, "default": 60.0, "low": 900.0}
"""p95 of the time from enqueue to start, per queue."""


@dataclass(frozen=True)
class Slo:
    """One service level objective: a PromQL measure and the bound it must keep."""

    name: str
    measure: str
    """PromQL giving one value (the measured figure)."""
    op: str
    """`<` (the measure must stay below the target) or `>`."""
    target: float
    unit: str
    """How to print the figures: `s`, `ratio`."""
    meaning: str


def _latency(quantile: float) -> str:
    return (f"histogram_quantile({quantile}, sum by (le) "
            f"(rate(quintet_http_request_duration_seconds_bucket[{WINDOW}])))")


def _queue_wait(queue: str) -> str:
    return (f"histogram_quantile(0.95, sum by (le) (rate("
            f"quintet_celery_queue_wait_seconds_bucket{{queue=\"{queue}\"}}[{WINDOW}])))")


# `or vector(0)`: with no 5xx at all the ratio is 0, not "no data".
RATIO_5XX = (f"(sum(rate(quintet_http_responses_total{{status=~\"5..\"}}[{WINDOW}])) "
             f"or vector(0)) / sum(rate(quintet_http_responses_total[{WINDOW}]))")
CACHE_HIT_RATIO = (f"sum(rate(quintet_cache_lookups_total{{result=\"hit\"}}[{WINDOW}])) / "
                   f"sum(rate(quintet_cache_lookups_total[{WINDOW}]))")
CONNECTIONS_RATIO = ("max(quintet_database_connections) / "
                     "max(quintet_database_max_connections)")

SLOS: tuple[Slo, ...] = (
    Slo("web latency p50", _latency(0.5), "<", 0.060, "s",
        "Half of all requests (probes excluded) answer within 60 ms."),
    Slo("web latency p95", _latency(0.95), "<", 0.300, "s",
        "95 % of requests answer within 300 ms."),
    Slo("web 5xx ratio", RATIO_5XX, "<", 0.01, "ratio",
        "Fewer than 1 % of responses are server errors."),
    *(Slo(f"{queue} queue wait p95", _queue_wait(queue), "<", target, "s",
          f"95 % of {queue} tasks start within {target:g} s of being queued.")
      for queue, target in QUEUE_WAIT_TARGET_SECONDS.items()),
    Slo("cache hit ratio", CACHE_HIT_RATIO, ">", 0.85, "ratio",
        "More than 85 % of read-through lookups are served from Redis."),
    Slo("db connections / max_connections", CONNECTIONS_RATIO, "<", 0.50, "ratio",
        "The primary's connections stay under half of max_connections."),
)


def _alert(name: str, expr: str, duration: str, severity: str, summary: str,
           runbook: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity, "team": "quintet"},
        "annotations": {"summary": summary,
                        "runbook": f"docs/observability.md#{runbook}"},
    }


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule: the SLOs and the faults the kit knows."""
    rules = [
        _alert("QuintetWebLatencyP95High", f"{_latency(0.95)} > 0.3", "10m", "warning",
               "Web p95 latency is above 300 ms.", "web-latency"),
        _alert("QuintetWeb5xxRatioHigh", f"{RATIO_5XX} > 0.01", "5m", "critical",
               "More than 1 % of web responses are 5xx.", "web-5xx-ratio"),
        *(_alert(f"QuintetQueueWaitHigh{queue.capitalize()}", f"{_queue_wait(queue)} > {target:g}",
                 "5m", "critical" if queue == "priority" else "warning",
                 f"p95 wait of the {queue} queue is above {target:g} s.", "queue-wait")
          for queue, target in QUEUE_WAIT_TARGET_SECONDS.items()),
        _alert("QuintetQueueStalled",
               "max by (queue) (quintet_celery_queue_length) > 0 unless on (queue) "
               f"(sum by (queue) (rate(quintet_celery_queue_wait_seconds_count[{WINDOW}])) > 0)",
               "10m", "critical", "Messages wait in {{ $labels.queue }} and no task starts.",
               "queue-wait"),
        _alert("QuintetCacheHitRatioLow", f"{CACHE_HIT_RATIO} < 0.85", "15m", "warning",
               "The read-through cache serves fewer than 85 % of lookups.", "cache-hit-ratio"),
        _alert("QuintetDatabaseConnectionsHigh", f"{CONNECTIONS_RATIO} > 0.5", "10m", "warning",
               "The primary holds more than half of max_connections.", "database-connections"),
        _alert("QuintetPgBouncerClientsWaiting",
               "max(quintet_pgbouncer_maxwait_seconds) > 1", "5m", "warning",
               "Clients wait over 1 s for a PgBouncer server connection.",
               "database-connections"),
        _alert("QuintetTasksDeadLettered",
               "sum by (queue, task) (increase(quintet_celery_task_dead_lettered_total[15m])) > 0",
               "0m", "warning", "{{ $labels.task }} gave up on tasks (dead letters).",
               "dead-letters"),
        _alert("QuintetBeatHeartbeatMissing",
               "(time() - max(quintet_celery_beat_last_tick_timestamp_seconds) > 120) "
               "or absent(quintet_celery_beat_last_tick_timestamp_seconds)",
               "2m", "critical", "Celery beat has not ticked for 2 minutes.", "beat-heartbeat"),
    ]
    return rules


def rule_groups() -> list[dict[str, Any]]:
    """The Prometheus rule groups (a PrometheusRule's `spec.groups`, a rule file's `groups`)."""
    return [{"name": RULE_GROUP, "interval": "30s", "rules": alert_rules()}]
