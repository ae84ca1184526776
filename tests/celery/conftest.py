"""Fixtures of the Celery fault tests: real data services, real `entrypoint.sh worker` processes.

The suite has its own services (a temp dir) and talks to the app only through processes: the
workers and beat through the entrypoint, app services through `tests.celery.driver`, state
through plain SQL and the broker Redis. Every process is started in its own session and stopped
by pid (its process group at the end), also when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from local.dataservices import DataServices, free_port

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "app_image"
ENTRYPOINT = APP_DIR / "entrypoint.sh"
VENV_BIN = Path(sys.executable).parent
SECRET_KEY = "test-only-" + "c3l" * 20
QUEUES = ("priority", "default", "low")
UNACKED_KEYS = tuple(f"{key}{family}" for key in ("unacked", "unacked_index", "unacked_mutex")
                     for family in ("", *(f":{q}" for q in QUEUES)))
"""kombu's unacked stores: each queue family has its own (config/settings/celery.py)."""


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.05) -> Any:
    """Poll until `predicate()` is truthy and return it; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Worker:
    """A running `entrypoint.sh worker <queues>` (its own process group) and its log."""

    queues: str
    process: subprocess.Popen[bytes]
    log_path: Path
    tmp_dir: Path

    @property
    def pid(self) -> int:
        """The worker's main process."""
        return self.process.pid

    def children(self) -> set[int]:
        """Pids of the prefork pool's processes."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except FileNotFoundError:
            return set()
        return {int(p) for p in text.split()}

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far."""
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    records.append(json.loads(line))
        return records

    def log_text(self) -> str:
        """The whole log."""
        return self.log_path.read_text(errors="replace")


@dataclass
class Stack:
    """The services, the environment of the app's processes, and the processes started."""

    services: DataServices
    env: dict[str, str]
    work_dir: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def broker(self) -> redis.Redis:
        """A client of the broker Redis."""
        return redis.Redis.from_url(self.services.broker_url, decode_responses=True)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run one query on the primary (autocommit) and return its rows."""
        with psycopg.connect(self.services.direct_primary_url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def principal_token(self, *, role: str, username: str) -> str:
        """The API token of a new account with `role` (editor or customer), made the way an
        operator makes one: `manage.py principal_create`."""
        result = subprocess.run(
            [sys.executable, "manage.py", "principal_create", "--username", username,
             "--role", role], cwd=APP_DIR, capture_output=True, text=True,
            env={**self.env, "PYTHONPATH": f"{APP_DIR}{os.pathsep}{ROOT}"},
            timeout=120, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout.strip().splitlines()[-1]

    def drive(self, **command: Any) -> dict[str, Any]:
        """Run a driver command in a real Django process and return its answer."""
        result = subprocess.run(
            [sys.executable, "-m", "tests.celery.driver", json.dumps(command)], cwd=ROOT,
            env={**self.env, "PYTHONPATH": f"{APP_DIR}{os.pathsep}{ROOT}"},
            capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    def start_worker(self, queues: str, *, metrics_port: int = 0) -> Worker:
        """Start `entrypoint.sh worker <queues>` and wait until its consumer is connected."""
        tmp_dir = Path(tempfile.mkdtemp(prefix=f"w-{queues}-", dir=self.work_dir))
        log_path = tmp_dir / "worker.log"
        # Its pool's PgBouncer database, with the queue's statement_timeout (as in make up).
        database = self.services.worker_database_url(queues.split(",")[0])
        env = {**self.env, "TMPDIR": str(tmp_dir), "METRICS_PORT": str(metrics_port),
               "DATABASE_URL": database}
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(ENTRYPOINT), "worker", queues], env=env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        self.started.append(process)
        worker = Worker(queues, process, log_path, tmp_dir)
        heartbeat = tmp_dir / "quintet-worker-heartbeat"

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"worker {queues} exited {process.returncode}:\n"
                                     f"{worker.log_text()[-3000:]}")
            return heartbeat.exists() and len(worker.children()) > 0

        wait_for(ready, 90, f"worker {queues} to connect")
        return worker

    def start_relay(self, tmp_dir: Path | None = None) -> subprocess.Popen[bytes]:
        """Start `entrypoint.sh relay` (the outbox relay) and wait for its first loop."""
        tmp = tmp_dir or Path(tempfile.mkdtemp(prefix="relay-", dir=self.work_dir))
        log = open(self.work_dir / "relay.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen([str(ENTRYPOINT), "relay"], env={**self.env, "TMPDIR": str(tmp)},
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        log.close()
        self.started.append(process)

        def looping() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"relay exited {process.returncode}")
            return (tmp / "quintet-worker-heartbeat").exists()

        wait_for(looping, 90, "the relay's first loop")
        return process

    def start_web(self) -> str:
        """Start `entrypoint.sh web` on a free port; return its URL once /livez answers."""
        port = free_port()
        log = open(self.work_dir / f"web-{port}.log", "ab")  # noqa: SIM115 - handed to the child
        # Its own TMPDIR (the metrics files live there): a shared /tmp/quintet-metrics left by
        # another user's run is not writable, and the process would exit at once.
        tmp = Path(tempfile.mkdtemp(prefix="web-", dir=self.work_dir))
        process = subprocess.Popen(
            [str(ENTRYPOINT), "web"], stdout=log, stderr=subprocess.STDOUT,
            env={**self.env, "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1",
                 "TMPDIR": str(tmp)},
            stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.started.append(process)
        url = f"http://127.0.0.1:{port}"

        def live() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"web exited {process.returncode}")
            try:
                return httpx.get(f"{url}/livez", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(live, 90, "the web process to answer /livez", 0.1)
        return url

    def start_beat(self, tmp_dir: Path | None = None) -> subprocess.Popen[bytes]:
        """Start `entrypoint.sh beat` (with its heartbeat under ``tmp_dir`` when given)."""
        log = open(self.work_dir / "beat.log", "ab")  # noqa: SIM115 - handed to the child
        # Its own TMPDIR always (the heartbeat lives there), for the reason start_web gives.
        tmp = tmp_dir or Path(tempfile.mkdtemp(prefix="beat-", dir=self.work_dir))
        env = {**self.env, "TMPDIR": str(tmp)}
        process = subprocess.Popen([str(ENTRYPOINT), "beat"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        log.close()
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
        """SIGTERM (warm shutdown) by pid, then SIGKILL the process group if it lingers."""
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        with_group_killed(process)

    def state(self) -> dict[str, Any]:
        """What a timed-out wait should report: queue lengths, unacked stores, unsent outbox."""
        client = self.broker()
        return {"queues": {q: client.llen(q) for q in QUEUES},
                "unacked": {k: client.hlen(k) for k in UNACKED_KEYS if k.startswith("unacked:")
                            or k == "unacked"},
                "outbox_unsent": self.sql("SELECT count(*) FROM core_outboxmessage "
                                          "WHERE sent_at IS NULL")[0][0],
                "relay_log": (self.work_dir / "relay.log").read_text(errors="replace")[-1500:]}

    def purge(self) -> None:
        """Empty the three queues and the unacked stores (between tests)."""
        client = self.broker()
        client.delete(*QUEUES, *UNACKED_KEYS)


def with_group_killed(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL whatever is left of the process group we started (orphaned pool children)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(10)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """Postgres (via PgBouncer), the cache and broker Redis; migrated; stopped at the end."""
    work_dir = Path(tempfile.mkdtemp(prefix="quintet-celery-tests-"))
    services = DataServices(work_dir / "services")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(services.urls())
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),  # tests.celery.settings and the scripted provider
        "DJANGO_SETTINGS_MODULE": "tests.celery.settings",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "UPSTREAM_SANCTIONS_URL": "http://127.0.0.1:9/sanctions",
        "UPSTREAM_FRAUD_URL": "http://127.0.0.1:9/fraud",
        "UPSTREAM_ADDRESS_URL": "http://127.0.0.1:9/address",
        # The Celery tests never reach S3; the contract still wants a bucket name.
        "UPLOADS_BUCKET": "quintet-celery-tests-uploads",
        "LOG_LEVEL": "INFO",
        "WEBHOOKS_ALLOW_LOOPBACK": "true",  # the receivers are plain-HTTP loopback servers
        "METRICS_PORT": "0",  # start_worker(metrics_port=...) turns it on for one worker
    })
    stack = Stack(services, env, work_dir)
    try:
        services.start()
        admin = {**env, "DATABASE_MASTER_URL": services.master_url,
                 "DATABASE_MIGRATE_URL": services.migrate_url}
        for step in ("bootstrap", "migrate"):  # the roles, then the schema as its owner
            done = subprocess.run([str(ENTRYPOINT), step], env=admin, capture_output=True,
                                  text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr[-3000:]
        stack.start_relay()  # every test's tasks are published through the outbox
        yield stack
    finally:
        for process in stack.started:
            if process.poll() is None:
                stack.stop(process, timeout=5)
            with_group_killed(process)
        services.remove()
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture
def clean(stack: Stack) -> Iterator[Stack]:
    """The stack with empty queues; every process a test started is stopped after it."""
    stack.purge()
    first = len(stack.started)
    try:
        yield stack
    finally:
        for process in stack.started[first:]:
            stack.stop(process)
        stack.purge()


class Receiver:
    """A webhook receiver on loopback: answers from a script, records every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, float, dict[str, str]]] = []
        self.default: tuple[int, float, dict[str, str]] = (200, 0.0, {})
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"key": self.headers.get("Idempotency-Key"),
                                              "at": time.time(), "body": body})
                    status, delay, headers = (receiver.script.pop(0) if receiver.script
                                              else receiver.default)
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def keys(self) -> list[str]:
        """Idempotency keys received, in order."""
        with self.lock:
            return [r["key"] for r in self.requests]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A fresh webhook receiver."""
    server = Receiver()
    try:
        yield server
    finally:
        server.close()
