"""The app's Prometheus metrics: every name, label and bucket, defined once.

Multiprocess mode: uvicorn runs WEB_CONCURRENCY worker processes and Celery's prefork pool runs
tasks in child processes, so each process writes its samples to files under
PROMETHEUS_MULTIPROC_DIR (set and emptied by entrypoint.sh before the process starts) and the
metrics endpoint (config.metrics_server) sums them across processes. One scrape per pod sees the
whole pod, whichever process answers it.

Label values are bounded: a view is its URL name (never the path), a queue one of three, a
cache family the key's first segment.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

NAMESPACE = "quintet"

# Request latency buckets around the SLOs (p50 20-60 ms, p95 under 300 ms).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5,
                   5.0, 10.0)
# Queue wait buckets around the SLOs (priority p95 under 5 s, default under 60 s).
QUEUE_WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                      1800.0)
TASK_RUNTIME_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

# ---- web ------------------------------------------------------------------------------------

REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds", "Time from request to response, by view and method.",
    ["view", "method"], namespace=NAMESPACE, buckets=LATENCY_BUCKETS)
RESPONSES = Counter(
    "http_responses_total", "Responses, by view, method and status code.",
    ["view", "method", "status"], namespace=NAMESPACE)

# ---- cache ----------------------------------------------------------------------------------

CACHE_LOOKUPS = Counter(
    "cache_lookups_total", "Read-through cache lookups, by key family and result (hit, miss).",
    ["family", "result"], namespace=NAMESPACE)

# ---- database -------------------------------------------------------------------------------

DB_QUERY_DURATION = Histogram(
    "db_query_duration_seconds", "Time of each SQL statement, by database alias.",
    ["alias"], namespace=NAMESPACE, buckets=DB_BUCKETS)
DB_QUERY_ERRORS = Counter(
    "db_query_errors_total", "SQL statements that raised, by database alias.",
    ["alias"], namespace=NAMESPACE)

# ---- Celery ---------------------------------------------------------------------------------

TASK_QUEUE_WAIT = Histogram(
    "celery_queue_wait_seconds",
    "Time from enqueue (or ETA) to the start of the task, by queue.",
    ["queue"], namespace=NAMESPACE, buckets=QUEUE_WAIT_BUCKETS)
TASK_RUNTIME = Histogram(
    "celery_task_runtime_seconds", "Time a task ran, by queue and task.",
    ["queue", "task"], namespace=NAMESPACE, buckets=TASK_RUNTIME_BUCKETS)
TASK_OUTCOMES = Counter(
    "celery_task_outcomes_total",
    "Finished task runs, by queue, task and state (SUCCESS, FAILURE, RETRY, ...).",
    ["queue", "task", "state"], namespace=NAMESPACE)
TASK_RETRIES = Counter(
    "celery_task_retries_total", "Retries scheduled, by queue and task.",
    ["queue", "task"], namespace=NAMESPACE)
TASK_DEAD_LETTERS = Counter(
    "celery_task_dead_lettered_total",
    "Tasks given up on (retries exhausted or not retryable), by queue and task.",
    ["queue", "task"], namespace=NAMESPACE)

# ---- beat -----------------------------------------------------------------------------------

BEAT_LAST_TICK = Gauge(
    "celery_beat_last_tick_timestamp_seconds", "Unix time of beat's last scheduler tick.",
    namespace=NAMESPACE, multiprocess_mode="max")

# ---- outbox relay ---------------------------------------------------------------------------

OUTBOX_LAG = Gauge(
    "outbox_lag_seconds", "Age of the oldest outbox message the relay has not published yet.",
    namespace=NAMESPACE, multiprocess_mode="max")
OUTBOX_PUBLISHED = Counter(
    "outbox_published_total", "Outbox messages the relay published (at least once).",
    namespace=NAMESPACE)
OUTBOX_PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total", "Relay batches whose publish failed (broker down or hung).",
    namespace=NAMESPACE)


def task_dead_lettered(*, queue: str, task: str) -> None:
    """Count one task given up on (the dead-letter path calls this)."""
    TASK_DEAD_LETTERS.labels(queue=queue, task=task).inc()


def cache_family(key: str) -> str:
    """The bounded label of a cache key: its first segment (`feed:home` -> `feed`)."""
    return key.split(":", 1)[0] or "unknown"


def cache_lookup_record(*, key: str, hit: bool) -> None:
    """Count one read-through lookup of `key` as a hit or a miss."""
    CACHE_LOOKUPS.labels(family=cache_family(key), result="hit" if hit else "miss").inc()
