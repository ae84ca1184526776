"""The peer of `make bench`: the same app under cookiecutter-django's production shape.

gunicorn sync workers (as many as the topology's web processes, so both sides have the same
processes), straight to the Postgres primary with CONN_MAX_AGE=60 and ATOMIC_REQUESTS=True, no
PgBouncer, no replicas, `cache.get_or_set` (local/peer/). Started and stopped by the bench only,
by pid; it shares the topology's Postgres, Redis and stub upstreams. It is measured through an
ALB of its own: a second HAProxy with the topology's ALB settings (local/haproxy.py), so both
sides pay the same load-balancer hop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from local.haproxy import alb_config
from local.preflight import port_free
from local.topology import APP_DIR, ROOT, Topology, TopologyError

PEER_DIR = ROOT / "local" / "peer"
GUNICORN = Path(sys.executable).parent / "gunicorn"


def peer_port(topology: Topology) -> int:
    """The peer's port: a free one below the web processes' (base + 9)."""
    return topology.base_port + 9


def peer_alb_port(topology: Topology) -> int:
    """The port of the peer's own ALB (HAProxy): a free one below the web processes'."""
    return topology.base_port + 8


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)  # gunicorn's master stops its workers; HAProxy exits
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the session we started, only
        process.wait()


def _wait_live(url: str, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    """Wait until `url` answers /livez 200 (30 s), or raise naming `what` and its log."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TopologyError(f"{what} exited; see {log}")
        try:
            if httpx.get(f"{url}/livez", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TopologyError(f"{what} did not answer /livez in 30 s; see {log}")


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
        self.alb_port = peer_alb_port(topology)
        self.url = f"http://127.0.0.1:{self.alb_port}"
        """Where the bench sends the peer's load: its ALB."""
        self.process: subprocess.Popen[bytes] | None = None
        self.alb: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Peer:
        if not GUNICORN.exists():
            raise TopologyError("gunicorn is missing from the venv: run `make venv`")
        for port in (self.port, self.alb_port):
            # A leftover peer (a bench killed mid-run) would answer the probes below: the bench
            # would then measure it, old code and all.
            if not port_free(port):
                raise TopologyError(f"port {port} is taken (a leftover peer of a killed bench?): "
                                    "stop what listens there, then run the bench again")
        log = self.topology.log_dir / "peer.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        # cookiecutter-django's start script: gunicorn config.wsgi, sync workers, and gunicorn
        # reads WEB_CONCURRENCY for the worker count.
        argv = [str(GUNICORN), "peer_wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                "--chdir", str(APP_DIR), "--worker-class", "sync", "--timeout", "30",
                "--no-control-socket"]
        try:
            with log.open("ab") as out:
                self.process = subprocess.Popen(argv, env=peer_env(self.topology), stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True)
            _wait_live(f"http://127.0.0.1:{self.port}", self.process, "the peer (gunicorn)", log)
            self.alb = self._alb_start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _alb_start(self) -> subprocess.Popen[bytes]:
        run_dir = self.topology.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        config = run_dir / "peer-haproxy.cfg"
        config.write_text(alb_config(
            port=self.alb_port, servers=[f"    server peer 127.0.0.1:{self.port} check"],
            # The peer is plain WSGI with no warm-up gate: its /readyz stays 503, so the peer's
            # target group checks liveness, as a team on that shape would.
            stats_socket=run_dir / "peer-haproxy.sock", check_path="/livez"))
        log = self.topology.log_dir / "peer-alb.log"
        with log.open("ab") as out:
            alb = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_live(self.url, alb, "the peer's ALB (HAProxy)", log)
        except BaseException:
            _stop(alb)
            raise
        return alb

    def __exit__(self, *_: object) -> None:
        try:
            _stop(self.alb)
        finally:
            _stop(self.process)
