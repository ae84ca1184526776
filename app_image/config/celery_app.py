"""The Celery app: configuration from Django settings (CELERY_*), the task base class, and the
worker's observability (JSON logs with task id and attempt, queue age, heartbeat file).

Process types: `entrypoint.sh worker <queues>` and `entrypoint.sh beat` run this app.
"""

from __future__ import annotations

import contextlib
import copy
import logging.config
import os
import time
from datetime import datetime
from typing import Any

import structlog
from celery import Celery, Task, bootsteps, signals
from celery.exceptions import ImproperlyConfigured
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from config import deliveries, metrics, queue_age
from config.metrics_server import metrics_serve
from config.pgbouncer_metrics import PgBouncerCollector
from config.queue_metrics import QueueLengthCollector
from config.settings.celery import celery_transport_options
from config.worker_health import heartbeat_path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")


def database_pools_off() -> None:
    """Plain connections in Celery processes: no psycopg pool.

    Celery's Django fixup closes every pool after each task in a prefork child
    (celery/fixups/django.py), so a pool would be opened and torn down per task, with its
    threads; the pool serves the web processes, where requests share it.
    """
    for database in settings.DATABASES.values():
        database.get("OPTIONS", {}).pop("pool", None)


database_pools_off()  # before the first connection: Django reads DATABASES lazily
app = Celery("quintet")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
log = structlog.get_logger("quintet.tasks")

ENQUEUED_AT_HEADER = "enqueued_at"
_started: dict[str, float] = {}
"""perf_counter at task_prerun, by task id (popped at task_postrun): the runtime histogram."""


def task_queue(request: Any) -> str:
    """The queue a task's message came from (its routing key), `unknown` when run eagerly."""
    return (getattr(request, "delivery_info", None) or {}).get("routing_key") or "unknown"


class TaskDeadLettered(Exception):
    """The attempt was delivered more often than CELERY_MAX_DELIVERIES (it kills its worker)."""


def task_route_queue(name: str) -> str:
    """The queue a task is routed to by name (task_routes, else the default queue)."""
    route = settings.CELERY_TASK_ROUTES.get(name) or {}
    return str(route.get("queue", settings.CELERY_TASK_DEFAULT_QUEUE))


class QuintetTask(Task):
    """Base of every task: retries with exponential backoff and jitter, logged failures.

    Subclass options set per task: `autoretry_for`, `max_retries`, time limits, and the
    `on_final_failure` hook (a service call) run once retries are exhausted.
    """

    abstract = True
    retry_backoff = True
    retry_jitter = True  # full jitter: a random countdown up to the exponential bound
    max_retries = 5

    @property
    def retry_backoff_max(self) -> int:  # type: ignore[override]
        """The cap of any backoff countdown: its queue's (bounded by its visibility timeout)."""
        return int(settings.CELERY_RETRY_BACKOFF_MAX[task_route_queue(self.name)])

    def retry_after(self, *, seconds: float, exc: BaseException) -> Any:
        """Retry after a provider's Retry-After (capped), counting against max_retries."""
        countdown = min(max(seconds, 0.0), float(self.retry_backoff_max))
        return self.retry(exc=exc, countdown=countdown)

    def backoff_retry(self, *, exc: BaseException) -> Any:
        """Retry with the same exponential backoff and full jitter as autoretry."""
        countdown = get_exponential_backoff_interval(
            factor=1, retries=self.request.retries, maximum=self.retry_backoff_max,
            full_jitter=True)
        return self.retry(exc=exc, countdown=countdown)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Count this delivery first; past the maximum, dead-letter the task instead of running
        it (the count is taken before the body, so a body that kills the process is counted)."""
        request = self.request
        task_id = request.id
        if task_id is None or request.is_eager:
            return super().__call__(*args, **kwargs)
        try:
            count = deliveries.delivery_count_increment(task_id=task_id,
                                                        retries=request.retries)
        except Exception as exc:
            log.warning("delivery_count_failed", error=f"{type(exc).__name__}: {exc}")
            return super().__call__(*args, **kwargs)
        limit = int(settings.CELERY_MAX_DELIVERIES)
        if count <= limit:
            return super().__call__(*args, **kwargs)
        self._dead_letter(args=list(args), kwargs=dict(kwargs), count=count, limit=limit)
        return None

    def _dead_letter(self, *, args: list[Any], kwargs: dict[str, Any], count: int,
                     limit: int) -> None:
        """Record, log and count the poisoned task, then run its failure path once."""
        queue = task_route_queue(self.name)
        deliveries.dead_letter_record(task_id=self.request.id, task_name=self.name,
                                      queue=queue, args=args, kwargs=kwargs, deliveries=count)
        metrics.task_dead_lettered(queue=task_queue(self.request), task=self.name)
        log.error("task_dead_lettered", deliveries=count, max_deliveries=limit)
        self.on_final_failure(exc=TaskDeadLettered(f"delivered {count} times (max {limit})"),
                              args=tuple(args), kwargs=kwargs)

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: Any,
                 einfo: Any) -> None:
        """Count and log the retry (with its attempt number, from the bound context)."""
        metrics.TASK_RETRIES.labels(queue=task_queue(self.request), task=self.name).inc()
        log.warning("task_retry", error=f"{type(exc).__name__}: {exc}")

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any,
                   einfo: Any) -> None:
        """Count it dead-lettered, log it, and let the task record it through its service."""
        metrics.task_dead_lettered(queue=task_queue(self.request), task=self.name)
        log.error("task_failed", task_id=task_id, task_name=self.name,
                  attempt=self.request.retries + 1, error=f"{type(exc).__name__}: {exc}")
        self.on_final_failure(exc=exc, args=tuple(args or ()), kwargs=dict(kwargs or {}))

    def on_final_failure(self, *, exc: BaseException, args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> None:
        """Hook: record the failure (override in tasks whose failure changes data)."""


# ---- configuration checks -------------------------------------------------------------------


def celery_limits_check(celery_app: Celery,
                        visibility_timeouts: dict[str, int] | None = None) -> None:
    """Refuse to start when a task lacks limits or could outlive its queue's visibility timeout
    (its hard time limit plus its queue's countdown cap)."""
    conf = celery_app.conf
    timeouts = visibility_timeouts or settings.CELERY_VISIBILITY_TIMEOUTS
    for name, task in celery_app.tasks.items():
        if name.startswith("celery."):
            continue
        soft = task.soft_time_limit or conf.task_soft_time_limit
        hard = task.time_limit or conf.task_time_limit
        if not soft or not hard or soft >= hard:
            raise ImproperlyConfigured(f"task {name} needs a soft limit below its hard limit "
                                       f"(soft={soft}, hard={hard})")
        queue = task_route_queue(name)
        visibility = int(timeouts[queue])
        countdown = int(settings.CELERY_RETRY_BACKOFF_MAX[queue])
        if visibility <= float(hard) + countdown:
            raise ImproperlyConfigured(
                f"visibility_timeout of queue {queue}={visibility}s must exceed the hard time "
                f"limit of {name} plus the queue's countdown cap ({hard:.0f}s + {countdown}s), "
                "or running tasks are delivered twice")


def worker_transport_options(queues: list[str]) -> dict[str, Any]:
    """Transport options of a worker consuming `queues`: the longest visibility timeout among
    them (never redeliver a live task early), under the unacked keys of that queue's family."""
    timeouts = settings.CELERY_VISIBILITY_TIMEOUTS
    unknown = [q for q in queues if q not in timeouts]
    if unknown:
        raise ImproperlyConfigured(f"unknown queue(s) {unknown}; known: {sorted(timeouts)}")
    family = max(queues, key=lambda q: timeouts[q])
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    options.update(celery_transport_options(visibility_timeout=int(timeouts[family]),
                                            family=family))
    return options


@signals.celeryd_init.connect
def _worker_family(conf: Any = None, options: dict[str, Any] | None = None, **_: Any) -> None:
    # Before the worker opens its broker connection: its queues decide its unacked keys.
    raw = (options or {}).get("queues") or [settings.CELERY_TASK_DEFAULT_QUEUE]
    queues = raw.split(",") if isinstance(raw, str) else [str(q) for q in raw]
    if conf is not None:
        conf.broker_transport_options = worker_transport_options(queues)


@signals.worker_init.connect
def _worker_init(sender: Any = None, **_: Any) -> None:
    celery_app = getattr(sender, "app", app)
    celery_app.loader.import_default_modules()
    celery_limits_check(celery_app)


@signals.beat_init.connect
def _beat_init(sender: Any = None, **_: Any) -> None:
    celery_limits_check(app)


# ---- logging: the JSON LOGGING of Django, with the task context merged in -------------------


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Connecting this signal stops Celery from installing its own plain-text handlers.
    config = copy.deepcopy(settings.LOGGING)
    chain = config["formatters"]["json"].setdefault("foreign_pre_chain", [])
    chain.insert(0, structlog.contextvars.merge_contextvars)
    logging.config.dictConfig(config)


@signals.before_task_publish.connect
def _stamp_enqueue_time(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        headers[ENQUEUED_AT_HEADER] = time.time()


def _due_time(request: Any) -> float | None:
    """When the message became runnable: its publish time, or its ETA if later."""
    enqueued = getattr(request, ENQUEUED_AT_HEADER, None)
    if enqueued is None:
        return None
    due = float(enqueued)
    eta = getattr(request, "eta", None)
    if eta:
        with contextlib.suppress(ValueError):
            due = max(due, datetime.fromisoformat(str(eta)).timestamp())
    return due


@signals.task_prerun.connect
def _task_started(task: Task | None = None, task_id: str | None = None, **_: Any) -> None:
    if task is None:
        return
    request = task.request
    queue = task_queue(request)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task_name=task.name,
                                           attempt=request.retries + 1, queue=queue)
    due = _due_time(request)
    age_ms = None if due is None else max(0.0, (time.time() - due) * 1000)
    if age_ms is not None:
        queue_age.queue_age_record(queue=queue, age_ms=age_ms)
        metrics.TASK_QUEUE_WAIT.labels(queue=queue).observe(age_ms / 1000)
    if task_id:
        _started[task_id] = time.perf_counter()
    log.info("task_started", queue_age_ms=None if age_ms is None else round(age_ms, 1))


@signals.task_postrun.connect
def _task_finished(task: Task | None = None, task_id: str | None = None,
                   state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id or "", None)
    if task is not None:
        queue = task_queue(task.request)
        metrics.TASK_OUTCOMES.labels(queue=queue, task=task.name, state=state or "UNKNOWN").inc()
        if started is not None:
            metrics.TASK_RUNTIME.labels(queue=queue, task=task.name).observe(
                time.perf_counter() - started)
    log.info("task_finished", state=state)
    structlog.contextvars.clear_contextvars()


# ---- worker heartbeat (read by `python -m config.worker_health`) ----------------------------


def _touch_heartbeat() -> None:
    path = heartbeat_path()
    path.touch(exist_ok=True)
    os.utime(path)


class HeartbeatStep(bootsteps.StartStopStep):
    """Touch the heartbeat file from the consumer's timer while it is connected and looping."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, parent: Any) -> None:
        """Beat now and then every CELERY_HEARTBEAT_SECONDS."""
        _touch_heartbeat()
        self.tref = parent.timer.call_repeatedly(settings.CELERY_HEARTBEAT_SECONDS,
                                                 _touch_heartbeat)

    def stop(self, parent: Any) -> None:
        """Stop beating (connection lost or shutting down)."""
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop


app.steps["consumer"].add(HeartbeatStep)


# ---- metrics port (not the probes': they read the heartbeat file) ---------------------------


@signals.worker_ready.connect
def _worker_metrics(**_: Any) -> None:
    # The main process serves what its prefork children wrote (multiprocess mode), plus what
    # it reads at scrape time: queue lengths (KEDA's number) and its PgBouncer's pools.
    metrics_serve(extra=[
        QueueLengthCollector(broker_url=settings.BROKER_URL, queues=settings.CELERY_QUEUES),
        PgBouncerCollector(),
    ])


@signals.beat_init.connect
def _beat_metrics(**_: Any) -> None:
    metrics_serve()


@signals.worker_shutdown.connect
def _heartbeat_remove(**_: Any) -> None:
    heartbeat_path().unlink(missing_ok=True)
