"""`make rollout` under load: every web process and worker pool replaced, nothing failed or lost.

wrk (Debian's package) drives the edge and the origin for the whole rollout and counts every
non-2xx answer and every socket error; a stream of email tasks on all three queues runs through
the worker restarts, another through the transactional outbox (the row and its message in one
transaction, as the services write them) runs through the relay's restart, and each task must
take effect exactly once.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from celery import Celery
from kombu import Exchange, Queue

from local.topology import WORKER_QUEUES
from tests.e2e.conftest import RunningTopology

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
WRK_SCRIPT = """
-- Counts non-2xx answers per thread; done() adds them up (wrk's own line counts 3xx as fine).
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0; answered = 0 end
function response(status, headers, body)
  answered = answered + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad, total = 0, 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx"); total = total + t:get("answered") end
  io.write(string.format("quintet: answered=%d non2xx=%d\\n", total, bad))
end
"""


class Wrk:
    """wrk against one URL until stopped (SIGINT makes it print its summary)."""

    def __init__(self, url: str, script: Path, connections: int = 8) -> None:
        self.process = subprocess.Popen(
            ["wrk", "-t1", f"-c{connections}", "-d600s", "--timeout", "10s", "-s", str(script),
             url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self) -> dict[str, int]:
        """Stop wrk and return answered, non2xx and socket errors."""
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=60)
        counts = re.search(r"quintet: answered=(\d+) non2xx=(\d+)", out)
        assert counts, out
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                           out)
        socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
        return {"answered": int(counts[1]), "non2xx": int(counts[2]),
                "socket_errors": socket_errors, "text": out}  # type: ignore[dict-item]


def _celery(running: RunningTopology) -> Celery:
    client = Celery(broker=running.topology.dataservices().broker_url)
    tasks = Exchange("tasks", type="direct")
    client.conf.task_queues = [Queue(q, tasks, routing_key=q) for q in WORKER_QUEUES]
    return client


class TaskStream:
    """Email deliveries enqueued on every queue, one every ``interval`` seconds, until stopped."""

    def __init__(self, running: RunningTopology, interval: float = 0.1) -> None:
        self.running = running
        self.marker = f"rollout{time.time_ns()}"
        """This run's recipients only: an earlier run's rows never count."""
        self.client = _celery(running)
        self.interval = interval
        self.ids: list[int] = []
        """Deliveries published straight to a queue."""
        self.outboxed: list[int] = []
        """Deliveries whose message went through the outbox and the relay."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _new_delivery(self, key: str) -> int:
        services = self.running.topology.dataservices()
        out = services.psql("primary", (
            "INSERT INTO notifications_emaildelivery (dedupe_key, recipient, subject, body, "
            "status, provider_message_id, last_error, created_at) VALUES "
            f"('{key}', '{key}@example.com', 'hello', 'hi', 'pending', '', '', now()) "
            "RETURNING id"))
        return int(out.splitlines()[0])

    def _new_outboxed_delivery(self, key: str) -> int:
        # One statement, one transaction: the delivery and the message the relay publishes.
        services = self.running.topology.dataservices()
        out = services.psql("primary", (
            "WITH d AS (INSERT INTO notifications_emaildelivery (dedupe_key, recipient, subject, "
            "body, status, provider_message_id, last_error, created_at) VALUES "
            f"('{key}', '{key}@example.com', 'hello', 'hi', 'pending', '', '', now()) "
            "RETURNING id) INSERT INTO core_outboxmessage (task_name, args, created_at, attempts) "
            "SELECT 'notifications.tasks.email_send', jsonb_build_array(id), now(), 0 FROM d "
            "RETURNING (args->>0)::int"))
        return int(out.splitlines()[0])

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            delivery = self._new_delivery(f"{self.marker}-{n}")
            queue = WORKER_QUEUES[n % len(WORKER_QUEUES)]
            self.client.send_task("notifications.tasks.email_send", args=[delivery], queue=queue)
            self.ids.append(delivery)
            self.outboxed.append(self._new_outboxed_delivery(f"{self.marker}-o{n}"))
            n += 1
            self._stop.wait(self.interval)

    def start(self) -> TaskStream:
        self._thread.start()
        return self

    def stop(self) -> list[int]:
        """Stop enqueueing; return every delivery of the run (both paths)."""
        self._stop.set()
        self._thread.join(30)
        return [*self.ids, *self.outboxed]


def _sent_and_effects(running: RunningTopology, ids: list[int], marker: str) -> tuple[int, int]:
    services = running.topology.dataservices()
    listed = ",".join(str(i) for i in ids)
    sent = services.psql("primary", "SELECT count(*) FROM notifications_emaildelivery "
                                    f"WHERE id IN ({listed}) AND status = 'sent'")
    effects = services.psql("primary", "SELECT count(*) FROM notifications_localoutboxmessage "
                                       f"WHERE recipient LIKE '{marker}-%@example.com'")
    return int(sent), int(effects)


def test_rollout_under_load_fails_no_request_and_loses_no_task(running: RunningTopology,
                                                              tmp_path: Path):
    # wrk comes with `make test` (local/packages.py): its absence is a failure, never a skip.
    assert shutil.which("wrk"), "wrk is missing: run scripts/bootstrap.sh"
    script = tmp_path / "count.lua"
    script.write_text(WRK_SCRIPT)
    topology = running.topology
    edge = Wrk(f"{topology.url}/", script)
    origin = Wrk(f"{topology.origin_url}/", script)
    stream = TaskStream(running).start()
    try:
        rolled = running.cli("rollout", timeout=900)
    finally:
        ids = stream.stop()
        edge_counts, origin_counts = edge.stop(), origin.stop()
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    print(f"\n{rolled.stdout}")
    for name, counts in (("edge", edge_counts), ("origin", origin_counts)):
        print(f"{name}: {counts['answered']} answered during the rollout, {counts['non2xx']} "
              f"non-2xx, {counts['socket_errors']} socket errors")
        assert counts["answered"] > 100, counts["text"]
        assert counts["non2xx"] == 0, counts["text"]
        assert counts["socket_errors"] == 0, counts["text"]
    assert "web-1" in rolled.stdout and "worker-low" in rolled.stdout
    assert "relay" in rolled.stdout
    deadline = time.monotonic() + 300
    sent, effects = _sent_and_effects(running, ids, stream.marker)
    while sent < len(ids) and time.monotonic() < deadline:
        time.sleep(0.5)
        sent, effects = _sent_and_effects(running, ids, stream.marker)
    print(f"tasks: {len(ids)} enqueued across the worker and relay restarts "
          f"({len(stream.outboxed)} through the outbox), {sent} sent, {effects} effects")
    assert sent == len(ids)
    assert effects == len(ids)
