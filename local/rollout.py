"""``make rollout``: replace every web process, then every worker pool, one at a time, the way
a Kubernetes rolling update behind the ALB does it, with nothing failed or lost.

For each web process (maxSurge 1, maxUnavailable 0): start the surge process, wait until it is
ready (``/readyz``) and put it in the ALB's rotation (HAProxy, local/haproxy.py: no client
connection is touched, as with the real ALB); take the old process out of rotation and wait
until it holds no request (the drain); stop it (SIGTERM: uvicorn finishes what it holds); start
it again on the new code, wait until it is ready and back in rotation; drain and stop the
surge. For each worker pool: SIGTERM (Celery's warm shutdown finishes the running task; late
acks mean a prefetched one goes back to the queue), wait until it has exited, start it again,
and wait for its heartbeat. Then the outbox relay, the same way: it finishes the batch in hand
and exits; what is written meanwhile stays unsent in the outbox until the new relay publishes
it (a batch published but not yet marked sent is published again: at least once).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from local.haproxy import READY_PATH, HaproxyAdmin
from local.supervise import HEARTBEAT_FILE, Supervisor, healthy
from local.topology import WORKER_QUEUES, Process, Topology, TopologyError

READY_TIMEOUT = 90.0
WORKER_PROCESSES = (*(f"worker-{queue}" for queue in WORKER_QUEUES), "relay")
"""The heartbeat processes a rollout restarts after the web ones, in order."""
DRAIN_TIMEOUT = 60.0


@dataclass(frozen=True)
class Step:
    """What one replacement took."""

    process: str
    seconds: float
    drain_seconds: float


def ready(port: int) -> bool:
    """True when the web process on ``port`` answers its readiness probe with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{READY_PATH}", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TopologyError(f"rollout: {what} within {timeout:.0f}s; see the logs")
        time.sleep(0.05)


def drain(admin: HaproxyAdmin, server: str) -> float:
    """Take ``server`` out of rotation and wait until it holds no request; return how long."""
    started = time.monotonic()
    admin.set_state(server, "maint")
    _wait(f"{server} did not drain", lambda: admin.in_flight(server) == 0, DRAIN_TIMEOUT)
    return time.monotonic() - started


def admit(admin: HaproxyAdmin, server: str) -> None:
    """Put ``server`` back in rotation and wait until its health check passes."""
    admin.set_state(server, "ready")
    _wait(f"{server} did not pass the ALB's health check", lambda: admin.in_rotation(server),
          READY_TIMEOUT)


def _restart(supervisor: Supervisor, process: Process, check: Callable[[], bool]) -> None:
    rpc = supervisor.rpc()
    rpc.supervisor.stopProcess(process.name, True)
    rpc.supervisor.startProcess(process.name, False)
    _wait(f"{process.name} was not ready again", check, READY_TIMEOUT)


def roll_web(topology: Topology, supervisor: Supervisor, process: Process) -> Step:
    """Replace one web process behind the ALB, with the surge covering for it."""
    admin = HaproxyAdmin(topology)
    started = time.monotonic()
    surge = topology.surge_process()
    supervisor.rpc().supervisor.startProcess(surge.name, False)
    _wait("the surge web process was not ready", lambda: ready(surge.port or 0), READY_TIMEOUT)
    admit(admin, surge.name)
    drained = drain(admin, process.name)
    _restart(supervisor, process, lambda: ready(process.port or 0))
    admit(admin, process.name)
    drained += drain(admin, surge.name)
    supervisor.rpc().supervisor.stopProcess(surge.name, True)
    return Step(process.name, time.monotonic() - started, drained)


def roll_worker(topology: Topology, supervisor: Supervisor, process: Process) -> Step:
    """Restart one worker pool or the relay: what it holds is finished before it exits."""
    started = time.monotonic()
    heartbeat = topology.tmp_dir(process.name) / HEARTBEAT_FILE
    heartbeat.unlink(missing_ok=True)  # healthy() then waits for the new process's own beat
    _restart(supervisor, process, lambda: healthy(topology, process))
    return Step(process.name, time.monotonic() - started, 0.0)


def rollout(topology: Topology, on_progress: Callable[[str], None] = print) -> list[Step]:
    """Roll every web process, then every worker pool and the relay; return what each took."""
    supervisor = Supervisor(topology)
    if supervisor.pid() is None:
        raise TopologyError("rollout: the local topology is not running; `make up` first")
    by_name = {p.name: p for p in topology.processes()}
    steps = []
    for i in range(1, topology.web_processes + 1):
        step = roll_web(topology, supervisor, by_name[f"web-{i}"])
        on_progress(f"  {step.process:<16} replaced in {step.seconds:.1f}s "
                    f"(upstream drained in {step.drain_seconds:.2f}s)")
        steps.append(step)
    for name in WORKER_PROCESSES:
        step = roll_worker(topology, supervisor, by_name[name])
        on_progress(f"  {step.process:<16} restarted in {step.seconds:.1f}s")
        steps.append(step)
    supervisor.record_pids()
    return steps
