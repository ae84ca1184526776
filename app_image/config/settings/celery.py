"""Celery settings (the CELERY_ namespace), imported at the end of base.py.

Delivery is at-least-once and every task is idempotent, so the rules below trade duplicates
(harmless) for never losing a message:

- acks_late + reject_on_worker_lost: a task whose worker dies is delivered again.
- prefetch 1: a worker holds at most one message it is not running, so a backlog stays in Redis
  where another worker (or the visibility sweep) can take it.
- The Redis visibility timeout of each queue is longer than its longest hard time limit plus
  its countdown cap (a countdown message waits unacked in the worker), or a live task would be
  delivered a second time. `celery_app` checks this at start-up against every registered task.
- An attempt delivered more than CELERY_MAX_DELIVERIES times goes to the dead-letter list.
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
CELERY_RETRY_BACKOFF_MAX: dict[str, int] = {"priority": 30, "default": 120, "low": 600}
"""Cap of a retry countdown per queue (exponential backoff with full jitter, and rate-limit
waits). A countdown message waits unacked in the worker, so the cap bounds the queue's
visibility timeout from below: a short cap is what lets the priority queue's be short."""
CELERY_VISIBILITY_TIMEOUTS: dict[str, int] = {"priority": 90, "default": 300, "low": 1800}
"""Seconds a reserved message of each queue stays invisible before Redis hands it out again:
the redelivery delay after a worker pod or node dies. Each exceeds the queue's longest hard
time limit plus its countdown cap (checked at start-up). Each queue's workers keep their
unacked messages under their own keys, so one queue's sweep never redelivers another's."""
CELERY_MAX_DELIVERIES = 5
"""Deliveries of one attempt (task id + retry number) before it is dead-lettered: a task that
kills its worker (OOM, segfault) is requeued by reject_on_worker_lost and would loop forever."""
CELERY_HEARTBEAT_SECONDS = 5
"""How often a worker touches its heartbeat file (the liveness probe reads its age)."""

CELERY_BROKER_URL: str = _ENV["BROKER_URL"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # keep reconnecting; the liveness probe decides
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True  # redelivered, not acked


def celery_transport_options(*, visibility_timeout: int, family: str = "") -> dict[str, Any]:
    """Redis transport options of one queue family (its own unacked keys when `family` is set);
    the visibility sweep runs often enough to honour the timeout."""
    suffix = f":{family}" if family else ""
    return {
        "visibility_timeout": visibility_timeout,
        # Where a consumer keeps the messages it holds. kombu's sweep restores every entry of
        # these keys older than the visibility timeout, whoever holds it: a family of its own
        # keeps the priority workers' short timeout off the low queue's long runs.
        "unacked_key": f"unacked{suffix}",
        "unacked_index_key": f"unacked_index{suffix}",
        "unacked_mutex_key": f"unacked_mutex{suffix}",
        # kombu sweeps for abandoned messages every interval * throttle seconds (100 s by
        # default); keep that well under the visibility timeout.
        "unacked_restore_interval": max(1, min(10, visibility_timeout // 6)),
        "unacked_restore_throttle": 1,
        # The sweep holds a mutex key while it runs (milliseconds). A worker killed mid-sweep
        # leaves the key until it expires: 300 s by default, which would hold back every
        # redelivery of the family (the priority queue's whole SLO). Expire it after a few
        # sweeps' time instead.
        "unacked_mutex_expire": max(2, min(30, visibility_timeout // 6)),
        # A failover can leave a dead socket open: give up on it instead of waiting forever.
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "health_check_interval": 10,
    }


# Publishers (web, relay, beat) hold no messages; workers switch to their family's options at
# start-up (config.celery_app, from the -Q queues).
CELERY_BROKER_TRANSPORT_OPTIONS = celery_transport_options(
    visibility_timeout=CELERY_VISIBILITY_TIMEOUTS["default"], family="default")

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

# ---- the transactional outbox (core/outbox.py) and its relay (process type `relay`) ----------
OUTBOX_BATCH_SIZE = 100
"""Rows the relay claims, publishes and marks per transaction."""
OUTBOX_POLL_SECONDS = 0.2
"""Relay's sleep when nothing was waiting (it goes again at once after a batch)."""
OUTBOX_RETRY_MAX_SECONDS = 5.0
"""Cap of the relay's backoff while the broker fails (0.25 s doubling)."""
OUTBOX_LAG_LOG_SECONDS = 10.0
"""How often an idle relay logs its lag (every batch is logged too)."""
OUTBOX_RETENTION_DAYS = 7
"""Sent outbox rows are deleted by the nightly cleanup after this many days."""

NOTIFICATIONS_EMAIL_PROVIDER = "notifications.providers.LocalEmailProvider"
"""Dotted path of the EmailProvider class; the local one records messages in the database."""
NOTIFICATIONS_FROM_EMAIL = "hello@quintet.invalid"
NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS = 10.0
NOTIFICATIONS_RECONCILE_AFTER_SECONDS = 600
"""A delivery still pending this long after creation lost its message: re-enqueue it."""
NOTIFICATIONS_RETENTION_DAYS = 30
