"""The peer of `make bench`: the same app under cookiecutter-django's production shape.

gunicorn sync workers (as many as the topology's web processes, so both sides have the same
processes), straight to the Postgres primary with CONN_MAX_AGE=60 and ATOMIC_REQUESTS=True, no
PgBouncer, no replicas, `cache.get_or_set` (local/peer/). Started and stopped by the bench only,
by pid; it shares the topology's Postgres, Redis and stub upstreams.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from local.topology import APP_DIR, ROOT, Topology, TopologyError

PEER_DIR = ROOT / "local" / "peer"
GUNICORN = Path(sys.executable).parent / "gunicorn"


def peer_port(topology: Topology) -> int:
    """The peer's port: past the topology's own (base + 10 + web processes)."""
    return topology.base_port + 9


def peer_env(topology: Topology) -> dict[str, str]:
    """The app's environment, pointed at the primary directly, without replicas."""
    env = topology.app_env()
    env |= {
        "DATABASE_URL": topology.dataservices().direct_primary_url,
        "DATABASE_REPLICA_URLS": "",
        "DJANGO_SETTINGS_MODULE": "peer_settings",
        "PYTHONPATH": f"{PEER_DIR}:{APP_DIR}",
        "WEB_CONCURRENCY": str(topology.web_processes),
        "LOG_LEVEL": "WARNING",
    }
    return env


class Peer:
    """A running gunicorn serving the peer."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.port = peer_port(topology)
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Peer:
        if not GUNICORN.exists():
            raise TopologyError("gunicorn is missing from the venv: run `make venv`")
        log = self.topology.log_dir / "peer.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        # cookiecutter-django's start script: gunicorn config.wsgi, sync workers, and gunicorn
        # reads WEB_CONCURRENCY for the worker count.
        argv = [str(GUNICORN), "peer_wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                "--chdir", str(APP_DIR), "--worker-class", "sync", "--timeout", "30",
                "--no-control-socket"]
        with log.open("ab") as out:
            self.process = subprocess.Popen(argv, env=peer_env(self.topology), stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TopologyError(f"the peer (gunicorn) exited; see {log}")
            try:
                if httpx.get(f"{self.url}/livez", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise TopologyError(f"the peer (gunicorn) did not answer /livez in 30 s; see {log}")

    def __exit__(self, *_: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)  # gunicorn's master stops its workers
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the session we started, only
            self.process.wait()
