"""The local topology's layout: state dir, ports, process list and the app's environment.

Everything `make up` runs is named here once, in start order. The cloud roles map onto local
processes as follows:

    Cloudflare (edge cache)  -> nginx :base      caches anonymous GETs, marks X-Cache-Status
    ALB                      -> HAProxy :base+1  load-balances, no cache (the origin); targets
                                                 change at run time (local/haproxy.py)
    EKS web pool             -> web-1..N         `entrypoint.sh web`, one uvicorn each
    worker pools, beat       -> worker-*, beat   `entrypoint.sh worker <queue>`, `beat`
    outbox relay             -> relay            `entrypoint.sh relay`
    RDS, ElastiCache         -> primary, replica, pgbouncer, cache, broker (local/dataservices)
    third-party APIs         -> stub             local/stub_upstream
    kube-prometheus-stack    -> prometheus        Debian's prometheus, the kit's rule file
    Flower (port-forward)    -> flower            basic auth from the state dir
    S3 uploads bucket        -> s3               moto's server mode (local/s3server)

The app's environment is built from app_image/environment.json (the contract): every variable
in it gets a local value or its documented default, and nothing outside it is passed, except the
few OS variables in PROCESS_BASE that any process needs.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from local.dataservices import DataServices, Ports
from local.s3server import s3_env

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app_image"
ENTRYPOINT = APP_DIR / "entrypoint.sh"
CONTRACT = APP_DIR / "environment.json"
VENV_BIN = ROOT / ".venv" / "bin"
DEFAULT_STATE_DIR = ROOT / ".local"
DEFAULT_BASE_PORT = 18000
DEFAULT_WEB_PROCESSES = 2
WORKER_QUEUES = ("default", "priority", "low")
WORKER_STOP_WAIT_SECONDS = {"default": 75, "priority": 60, "low": 390}
"""How long a worker may take to stop (a warm shutdown finishes its task): the queue's hard time
limit (app_image/config/settings/celery.py) plus a margin, as terminationGracePeriodSeconds is
in the cloud. tests/e2e/test_rollout.py holds it to the app's limits."""
PROCESS_BASE = ("PATH", "HOME", "LANG", "TMPDIR")
"""OS variables an app process gets besides the contract (not app configuration). TMPDIR is
per process: a worker keeps its heartbeat file in the temp dir, one per container in the cloud."""
UPSTREAM_NAMES = ("sanctions", "fraud", "address")


class TopologyError(RuntimeError):
    """A problem the user can fix; the message says how (no traceback is shown)."""


@dataclass(frozen=True)
class Process:
    """One long-running process of the topology."""

    name: str
    stage: int
    """Start order: every process of a stage is healthy before the next stage starts."""
    port: int | None
    role: str
    """The cloud role it plays (for the status table)."""


@dataclass(frozen=True)
class Topology:
    """Where the local topology keeps its state and which ports it uses."""

    state_dir: Path = DEFAULT_STATE_DIR
    base_port: int = DEFAULT_BASE_PORT
    web_processes: int = DEFAULT_WEB_PROCESSES
    upstream_delay_ms: int = 200
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Topology:
        """Read QUINTET_STATE_DIR, QUINTET_BASE_PORT and QUINTET_WEB_PROCESSES (all optional)."""
        env = os.environ if environ is None else environ
        state = Path(env.get("QUINTET_STATE_DIR") or DEFAULT_STATE_DIR).resolve()
        base = _int_setting(env, "QUINTET_BASE_PORT", DEFAULT_BASE_PORT, 1024, 65000)
        webs = _int_setting(env, "QUINTET_WEB_PROCESSES", DEFAULT_WEB_PROCESSES, 1, 16)
        return cls(state_dir=state, base_port=base, web_processes=webs)

    # ---- ports ----------------------------------------------------------------------

    @property
    def edge_port(self) -> int:
        """nginx playing the edge (caching); the URL users open."""
        return self.base_port

    @property
    def alb_port(self) -> int:
        """HAProxy playing the ALB (load balancing only): the origin."""
        return self.base_port + 1

    @property
    def prometheus_port(self) -> int:
        """Prometheus (scrapes every app process; the SLO table reads it)."""
        return self.base_port + 20

    @property
    def prometheus_url(self) -> str:
        """Prometheus's HTTP API."""
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def flower_port(self) -> int:
        """Flower (basic auth)."""
        return self.base_port + 21

    def metrics_port(self, name: str) -> int | None:
        """The METRICS_PORT of app process `name` (None: it has none)."""
        if name == "web-surge":
            return self.base_port + 57  # after the 16 web processes' ports
        if name.startswith("web-"):
            return self.base_port + 40 + int(name.removeprefix("web-"))
        if name.startswith("worker-"):
            return self.base_port + 60 + WORKER_QUEUES.index(name.removeprefix("worker-"))
        if name == "beat":
            return self.base_port + 60 + len(WORKER_QUEUES)
        if name == "relay":
            return self.base_port + 61 + len(WORKER_QUEUES)
        return None

    @property
    def stub_port(self) -> int:
        """The stub third-party upstreams."""
        return self.base_port + 5

    @property
    def s3_port(self) -> int:
        """The local S3 server (the uploads bucket)."""
        return self.base_port + 6

    @property
    def s3_url(self) -> str:
        """Endpoint URL of the local S3 server."""
        return f"http://127.0.0.1:{self.s3_port}"

    def web_port(self, index: int) -> int:
        """Port of web process `index` (1-based)."""
        return self.base_port + 10 + index

    @property
    def surge_port(self) -> int:
        """The rollout's extra web process (maxSurge 1), up only while one web process rolls."""
        return self.base_port + 27

    def surge_process(self) -> Process:
        """The rollout's surge web process: in supervisord's config, never started by `up`."""
        return Process("web-surge", 4, self.surge_port, "rollout surge (maxSurge 1)")

    @property
    def data_ports(self) -> Ports:
        """Ports of the five data services."""
        b = self.base_port + 30
        return Ports(primary=b, replica=b + 1, pgbouncer=b + 2, cache=b + 3, broker=b + 4)

    @property
    def url(self) -> str:
        """The edge URL."""
        return f"http://127.0.0.1:{self.edge_port}"

    @property
    def origin_url(self) -> str:
        """The ALB URL (no edge cache)."""
        return f"http://127.0.0.1:{self.alb_port}"

    # ---- paths ----------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """Postgres clusters, Redis files, PgBouncer config."""
        return self.state_dir / "data"

    @property
    def log_dir(self) -> Path:
        """One log file per process."""
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """Generated configs, sockets and pid files."""
        return self.state_dir / "run"

    def tmp_dir(self, name: str) -> Path:
        """The private temp dir (TMPDIR) of app process `name`."""
        return self.run_dir / "tmp" / name

    @property
    def app_env_file(self) -> Path:
        """The app's environment (contract variables), read by local.launch; mode 0600."""
        return self.run_dir / "app-env.json"

    def dataservices(self) -> DataServices:
        """The data services under this state dir, on this topology's fixed ports."""
        return DataServices(self.data_dir, self.data_ports, durable=True)

    # ---- processes ------------------------------------------------------------------

    def processes(self) -> list[Process]:
        """Every long-running process, in start order."""
        ports = self.data_ports
        procs = [
            Process("primary", 1, ports.primary, "RDS primary"),
            Process("replica", 2, ports.replica, "RDS read replica"),
            Process("pgbouncer", 3, ports.pgbouncer, "PgBouncer sidecar"),
            Process("cache", 3, ports.cache, "ElastiCache cache (LRU)"),
            Process("broker", 3, ports.broker, "ElastiCache broker"),
            Process("stub", 3, self.stub_port, "third-party APIs (stub)"),
            Process("s3", 3, self.s3_port, "S3 uploads bucket (moto)"),
        ]
        procs += [Process(f"web-{i}", 4, self.web_port(i), "web pod (uvicorn)")
                  for i in range(1, self.web_processes + 1)]
        procs += [Process(f"worker-{q}", 4, None, f"Celery {q} pool") for q in WORKER_QUEUES]
        procs.append(Process("beat", 4, None, "Celery beat"))
        procs.append(Process("relay", 4, None, "outbox relay"))
        procs.append(Process("flower", 4, self.flower_port, "Flower (basic auth)"))
        procs.append(Process("alb", 5, self.alb_port, "ALB (HAProxy)"))
        procs.append(Process("nginx", 6, self.edge_port, "edge (Cloudflare's cache)"))
        procs.append(Process("prometheus", 6, self.prometheus_port,
                             "kube-prometheus-stack (rules, SLOs)"))
        return procs

    def ports(self) -> dict[int, str]:
        """Every port the topology listens on, to the process owning it."""
        owned = {p.port: p.name for p in self.processes() if p.port is not None}
        owned[self.surge_port] = "web-surge"
        for process in self.processes():
            metrics = self.metrics_port(process.name)
            if metrics is not None:
                owned[metrics] = f"{process.name} metrics"
        return owned

    # ---- the app's environment ------------------------------------------------------

    def secret_key(self) -> str:
        """The local SECRET_KEY: made once, kept in the state dir (sessions survive restarts)."""
        path = self.state_dir / "secret_key"
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def flower_basic_auth(self) -> str:
        """Flower's `user:password`: made once, kept in the state dir (0600)."""
        path = self.state_dir / "flower_password"
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(18))
            path.chmod(0o600)
        return f"admin:{path.read_text().strip()}"

    def local_values(self) -> dict[str, str]:
        """The local topology's value of each contract variable it knows."""
        stub = f"http://127.0.0.1:{self.stub_port}"
        values = {
            "DJANGO_SECRET_KEY": self.secret_key(),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            **self.dataservices().urls(),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "1",
            "LOG_LEVEL": "INFO",
            # nginx (the edge and the ALB) is on loopback: the only proxy whose
            # X-Forwarded-* headers are believed.
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            # Local mode: webhook endpoints may be plain-HTTP loopback receivers.
            "WEBHOOKS_ALLOW_LOOPBACK": "true",
            "FLOWER_BASIC_AUTH": self.flower_basic_auth(),
            "METRICS_PORT": "0",  # each app process gets its own (local.supervise)
        }
        values |= {f"UPSTREAM_{n.upper()}_URL": f"{stub}/{n}" for n in UPSTREAM_NAMES}
        values |= s3_env(self.s3_url)
        # 1 MiB locally: the e2e test uploads past it quickly.
        values["UPLOADS_MAX_BYTES"] = str(1024 * 1024)
        return values | self.extra

    def app_env(self) -> dict[str, str]:
        """The app's environment: each contract variable (local value or default) + PROCESS_BASE."""
        contract = json.loads(CONTRACT.read_text())
        local = self.local_values()
        env: dict[str, str] = {}
        for entry in contract:
            name = entry["name"]
            value = local.get(name, entry.get("default"))
            if value is None:
                if entry["required"]:
                    raise TopologyError(
                        f"app_image/environment.json requires {name}, which the local topology "
                        "does not supply: add it to local/topology.py local_values()"
                    )
                continue
            env[name] = str(value)
        return {**process_base(), **env}


def process_base() -> dict[str, str]:
    """PATH (the venv first, so `python` is the venv's), HOME and a UTF-8 locale."""
    venv = VENV_BIN if VENV_BIN.exists() else Path(sys.executable).parent
    return {
        "PATH": f"{venv}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }


def _int_setting(env: object, name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name) or ""  # type: ignore[attr-defined]
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise TopologyError(f"{name}={raw!r} is not allowed: use an integer from {low} to {high}")
    return value
