"""The metrics endpoint of a pod: every process's samples (multiprocess mode) on METRICS_PORT.

The port is the pod's own, never the app port: the ALB and the probes do not reach it, only the
PodMonitor (and the local Prometheus) do.

- web: each uvicorn worker tries to bind METRICS_PORT in a daemon thread and retries every few
  seconds, so exactly one serves it and another takes over when that one exits.
- worker, beat: the main process serves it once started (the prefork children only write their
  sample files).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable

import structlog
from django.conf import settings
from prometheus_client import CollectorRegistry, multiprocess, start_http_server
from prometheus_client.registry import Collector

from config.env import metrics_multiproc_dir

log = structlog.get_logger(__name__)
BIND_RETRY_SECONDS = 5.0


def metrics_port() -> int:
    """METRICS_PORT from the environment contract (0 turns the endpoint off)."""
    return int(settings.METRICS_PORT)


def metrics_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """A registry that sums the sample files of every process, plus `extra` collectors."""
    registry = CollectorRegistry()
    if metrics_multiproc_dir():
        multiprocess.MultiProcessCollector(registry)
    for collector in extra:
        registry.register(collector)
    return registry


def metrics_serve(*, extra: Iterable[Collector] = (), host: str | None = None) -> bool:
    """Serve the registry on METRICS_PORT now; False when the port is taken or turned off."""
    port = metrics_port()
    if not port:
        return False
    try:
        start_http_server(port, addr=host or settings.METRICS_HOST,
                          registry=metrics_registry(extra))
    except OSError:
        return False
    log.info("metrics_serving", port=port, pid=os.getpid())
    return True


def metrics_serve_when_free(*, extra: Iterable[Collector] = ()) -> threading.Thread | None:
    """Keep trying to serve METRICS_PORT from a daemon thread (one uvicorn worker wins)."""
    if not metrics_port():
        return None

    def loop() -> None:
        while not metrics_serve(extra=extra):
            time.sleep(BIND_RETRY_SECONDS)

    thread = threading.Thread(target=loop, name="metrics-server", daemon=True)
    thread.start()
    return thread
