"""Celery settings (the CELERY_ namespace), imported at the end of base.py.

Delivery is at-least-once and every task is idempotent, so the rules below trade duplicates
(harmless) for never losing a message:

- acks_late + reject_on_worker_lost: a task whose worker dies is delivered again.
- prefetch 1: a worker holds at most one message it is not running, so a backlog stays in Redis
  where another worker (or the visibility sweep) can take it.
- The Redis visibility timeout is longer than the longest hard time limit plus the longest
  countdown (a countdown message waits unacked in the worker), or a live task would be
  delivered a second time. `celery_app` checks this at start-up against every registered task.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab
from kombu import Exchange, Queue

from config.env import environment_load

_ENV = environment_load()

CELERY_QUEUES = ("priority", "default", "low")
"""The three queues; each has its own worker Deployment (KEDA scales them on queue length)."""

# Time limits in seconds (soft raises SoftTimeLimitExceeded in the task; hard kills the process).
CELERY_TIME_LIMITS: dict[str, tuple[int, int]] = {
    "priority": (20, 30),
    "default": (30, 45),
    "low": (300, 360),
}
CELERY_RETRY_BACKOFF_MAX = 600
"""Cap of a retry countdown (exponential backoff with full jitter, and rate-limit waits)."""
CELERY_VISIBILITY_TIMEOUT = 3600
"""Seconds a reserved message stays invisible before Redis hands it out again."""
CELERY_HEARTBEAT_SECONDS = 5
"""How often a worker touches its heartbeat file (the liveness probe reads its age)."""

CELERY_BROKER_URL: str = _ENV["BROKER_URL"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # keep reconnecting; the liveness probe decides
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True  # redelivered, not acked


def celery_transport_options(*, visibility_timeout: int) -> dict[str, Any]:
    """Redis transport options; the visibility sweep runs often enough to honour the timeout."""
    return {
        "visibility_timeout": visibility_timeout,
        # kombu sweeps for abandoned messages every interval * throttle seconds (100 s by
        # default); keep that well under the visibility timeout.
        "unacked_restore_interval": max(1, min(10, visibility_timeout // 6)),
        "unacked_restore_throttle": 1,
        # A failover can leave a dead socket open: give up on it instead of waiting forever.
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "health_check_interval": 10,
    }


CELERY_BROKER_TRANSPORT_OPTIONS = celery_transport_options(
    visibility_timeout=CELERY_VISIBILITY_TIMEOUT)

# Results: none by default. No task here needs its return value; effects live in the database.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True

_exchange = Exchange("tasks", type="direct")
CELERY_TASK_QUEUES = tuple(Queue(name, _exchange, routing_key=name) for name in CELERY_QUEUES)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_DEFAULT_EXCHANGE = "tasks"
CELERY_TASK_DEFAULT_ROUTING_KEY = "default"
CELERY_TASK_CREATE_MISSING_QUEUES = False  # a typo in a route fails loudly, never a 4th queue
CELERY_TASK_ROUTES = {
    "notifications.tasks.email_send": {"queue": "priority", "routing_key": "priority"},
    "notifications.tasks.webhook_deliver": {"queue": "default", "routing_key": "default"},
    "notifications.tasks.report_export_run": {"queue": "low", "routing_key": "low"},
    "notifications.tasks.maintenance_reconcile": {"queue": "low", "routing_key": "low"},
    "notifications.tasks.maintenance_cleanup": {"queue": "low", "routing_key": "low"},
}

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT = CELERY_TIME_LIMITS["default"]
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TRACK_STARTED = False
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_WORKER_CONCURRENCY: int = _ENV["CELERY_WORKER_CONCURRENCY"]
"""Processes per worker pod (prefork); scale out with replicas, not with this."""
CELERY_WORKER_MAX_TASKS_PER_CHILD = 1000  # bounds any slow leak in a child
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # the JSON logging of LOGGING stays in charge
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True

# Beat: one process, schedule in the database (django-celery-beat), so a restart knows when
# each entry last ran. The nightly tasks are idempotent per day besides.
CELERY_BEAT_SCHEDULER = "config.beat_scheduler:HeartbeatDatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "nightly-reconciliation": {
        "task": "notifications.tasks.maintenance_reconcile",
        "schedule": crontab(minute="15", hour="2"),
    },
    "nightly-cleanup": {
        "task": "notifications.tasks.maintenance_cleanup",
        "schedule": crontab(minute="45", hour="2"),
    },
}

NOTIFICATIONS_EMAIL_PROVIDER = "notifications.providers.LocalEmailProvider"
"""Dotted path of the EmailProvider class; the local one records messages in the database."""
NOTIFICATIONS_FROM_EMAIL = "hello@quintet.invalid"
NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS = 10.0
NOTIFICATIONS_RECONCILE_AFTER_SECONDS = 600
"""A delivery still pending this long after creation lost its message: re-enqueue it."""
NOTIFICATIONS_RETENTION_DAYS = 30
