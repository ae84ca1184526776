"""Run the local topology under supervisord: generated config, staged start, status, stop.

supervisord (an existing process manager) owns every long-running process; this module writes
its config, starts it with a clean environment, starts the programs stage by stage (each stage
healthy before the next), and reads pids back over its XML-RPC socket. App processes are
launched only through app_image/entrypoint.sh, via local.launch (exactly the contract's env).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from local.dataservices import PG_BIN, pid_alive
from local.dataservices import SERVICES as DATA_SERVICES
from local.haproxy import haproxy_command, haproxy_write
from local.nginx import nginx_command, nginx_write
from local.prometheus import prometheus_command, prometheus_write
from local.topology import (
    APP_DIR,
    ENTRYPOINT,
    ROOT,
    WORKER_STOP_WAIT_SECONDS,
    Process,
    Topology,
    TopologyError,
)

PRIORITY = {1: 10, 2: 20, 3: 30, 4: 50, 5: 70, 6: 80}
"""supervisord priority per stage: it stops the highest first, so nginx goes before Postgres."""
STAGE_TIMEOUT = 300.0
HEARTBEAT_FILE = "quintet-worker-heartbeat"
"""The worker's heartbeat file name in its TMPDIR (app_image/config/worker_health.py)."""


@dataclass(frozen=True)
class ProcessStatus:
    """One row of the status table."""

    name: str
    pid: int | None
    port: int | None
    state: str
    healthy: bool
    role: str


def supervisor_conf_path(topology: Topology) -> Path:
    """The generated supervisord.conf."""
    return topology.run_dir / "supervisord.conf"


def supervisor_pidfile(topology: Topology) -> Path:
    """supervisord's pid file (its presence with a live pid means the topology runs)."""
    return topology.run_dir / "supervisord.pid"


def supervisor_socket(topology: Topology) -> Path:
    """supervisord's control socket."""
    return topology.run_dir / "supervisor.sock"


def _python() -> str:
    venv_python = ROOT / ".venv" / "bin" / "python"
    return str(venv_python if venv_python.exists() else Path(sys.executable))


def program_command(topology: Topology, process: Process) -> tuple[list[str], str | None]:
    """The command line of one program and the OS user it runs as (None: the caller's)."""
    services = topology.dataservices()
    if process.name in DATA_SERVICES:
        return services.command(process.name), services.os_user(process.name)
    if process.name == "stub":
        return [_python(), "-m", "local.stub_upstream", "--port", str(topology.stub_port),
                "--delay-ms", str(topology.upstream_delay_ms)], None
    if process.name == "s3":
        # moto's server: in-memory S3 on loopback; the bucket is created before migrate.
        return [str(Path(_python()).parent / "moto_server"), "-H", "127.0.0.1",
                "-p", str(topology.s3_port)], None
    if process.name == "nginx":
        return nginx_command(topology), None
    if process.name == "prometheus":
        return prometheus_command(topology), None
    if process.name == "alb":
        return haproxy_command(topology), None
    launch = [_python(), "-m", "local.launch", str(topology.app_env_file),
              f"TMPDIR={topology.tmp_dir(process.name)}"]
    metrics = topology.metrics_port(process.name)
    if metrics is not None:
        launch.append(f"METRICS_PORT={metrics}")
    if process.name == "flower":
        return [*launch, f"PORT={process.port}", "--", str(ENTRYPOINT), "flower"], None
    if process.name.startswith("web-"):
        return [*launch, f"PORT={process.port}", "--", str(ENTRYPOINT), "web"], None
    if process.name.startswith("worker-"):
        queue = process.name.removeprefix("worker-")
        # Its pool's PgBouncer database: the queue's statement_timeout on every connection.
        database = f"DATABASE_URL={services.worker_database_url(queue)}"
        return [*launch, database, "--", str(ENTRYPOINT), "worker", queue], None
    if process.name in ("beat", "relay"):
        return [*launch, "--", str(ENTRYPOINT), process.name], None
    raise TopologyError(f"no command for process {process.name!r}")


def stop_wait_seconds(process: Process) -> int:
    """Seconds supervisord waits after the stop signal before SIGKILL: a worker's warm shutdown
    finishes its task (the queue's hard limit), everything else stops within 30 s."""
    if process.name.startswith("worker-"):
        return WORKER_STOP_WAIT_SECONDS[process.name.removeprefix("worker-")]
    return 30


def _quote(arg: str) -> str:
    # supervisord splits `command` with shlex; %% escapes its own interpolation.
    return "'" + arg.replace("'", "'\"'\"'").replace("%", "%%") + "'"


def supervisor_config(topology: Topology) -> str:
    """The supervisord.conf text: every program with autostart off (started by stage)."""
    run, logs = topology.run_dir, topology.log_dir
    lines = [
        "; Generated by local/supervise.py; rewritten by every make up.",
        "[unix_http_server]", f"file={supervisor_socket(topology)}", "chmod=0700", "",
        "[supervisord]", f"logfile={logs / 'supervisord.log'}",
        f"pidfile={supervisor_pidfile(topology)}", f"childlogdir={logs}",
        f"directory={ROOT}", "minfds=20000", "logfile_maxbytes=10MB", "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{supervisor_socket(topology)}", "",
    ]
    services = topology.dataservices()
    for process in [*topology.processes(), topology.surge_process()]:
        argv, user = program_command(topology, process)
        if any(a.startswith("TMPDIR=") for a in argv):
            topology.tmp_dir(process.name).mkdir(parents=True, exist_ok=True)
        postgres = process.name in ("primary", "replica")
        # A data service may run as another user (root's `postgres`), who cannot enter a
        # clone in a private dir: it starts in its own dir under the service home.
        data_service = process.name in DATA_SERVICES
        lines += [
            f"[program:{process.name}]",
            "command=" + " ".join(_quote(a) for a in argv),
            f"directory={services.home / process.name if data_service else ROOT}",
            f"priority={PRIORITY[process.stage]}",
            "autostart=false", "autorestart=unexpected", "startsecs=1", "startretries=0",
            # Postgres: SIGINT is its fast shutdown; the others stop on SIGTERM.
            f"stopsignal={'INT' if postgres else 'TERM'}",
            f"stopwaitsecs={stop_wait_seconds(process)}", "stopasgroup=true",
            "killasgroup=true",
            f"stdout_logfile={logs / (process.name + '.log')}", "redirect_stderr=true",
            "stdout_logfile_maxbytes=20MB", "stdout_logfile_backups=1",
        ]
        if user:
            lines.append(f"user={user}")
        lines.append("")
    _ = run
    return "\n".join(lines)


class Supervisor:
    """A handle on the supervisord of one topology."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology

    # ---- lifecycle ------------------------------------------------------------------

    def pid(self) -> int | None:
        """supervisord's pid when it runs, else None."""
        try:
            pid = int(supervisor_pidfile(self.topology).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def launch(self) -> None:
        """Write the configs and start supervisord (daemonized, clean environment)."""
        topology = self.topology
        for folder in (topology.run_dir, topology.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        nginx_write(topology)
        prometheus_write(topology)
        haproxy_write(topology)
        supervisor_conf_path(topology).write_text(supervisor_config(topology))
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
        supervisord = Path(_python()).parent / "supervisord"
        result = subprocess.run(
            [str(supervisord), "-c", str(supervisor_conf_path(topology))], env=env,
            capture_output=True, text=True, check=False, cwd=ROOT,
        )
        if result.returncode != 0:
            raise TopologyError(f"supervisord did not start: {result.stderr.strip()}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.rpc().supervisor.getState()
                return
            except (OSError, xmlrpc.client.Fault):
                time.sleep(0.1)
        raise TopologyError(f"supervisord did not answer; see {topology.log_dir}/supervisord.log")

    def rpc(self) -> xmlrpc.client.ServerProxy:
        """An XML-RPC proxy over supervisord's unix socket."""
        transport = SupervisorTransport(None, None, f"unix://{supervisor_socket(self.topology)}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def start_stage(self, processes: list[Process],
                    on_progress: Callable[[str], None] = print) -> None:
        """Start every process of one stage and wait until each is healthy."""
        rpc = self.rpc()
        for process in processes:
            try:
                rpc.supervisor.startProcess(process.name, False)
            except xmlrpc.client.Fault as fault:
                if "ALREADY_STARTED" not in fault.faultString:
                    raise TopologyError(self._failure(process, fault.faultString)) from None
        deadline = time.monotonic() + STAGE_TIMEOUT
        waiting = list(processes)
        while waiting:
            for process in list(waiting):
                info = rpc.supervisor.getProcessInfo(process.name)
                if info["statename"] in ("FATAL", "EXITED", "BACKOFF"):
                    raise TopologyError(self._failure(process, info["statename"]))
                if info["statename"] == "RUNNING" and healthy(self.topology, process):
                    on_progress(f"  {process.name:<16} up (pid {info['pid']})")
                    waiting.remove(process)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(p.name for p in waiting)
                raise TopologyError(f"not healthy within {STAGE_TIMEOUT:.0f}s: {names}; "
                                    f"see {self.topology.log_dir}/<name>.log")
            time.sleep(0.1)

    def stop_process(self, name: str) -> None:
        """Stop one program (waits until it has exited)."""
        self.rpc().supervisor.stopProcess(name, True)

    def start_process(self, name: str) -> None:
        """Start one program again and wait until healthy."""
        process = next(p for p in self.topology.processes() if p.name == name)
        self.start_stage([process], on_progress=lambda _: None)

    def shutdown(self, timeout: float = 90.0) -> list[int]:
        """Stop every program and supervisord itself; return pids that outlived it (killed)."""
        pid = self.pid()
        if pid is None:
            return self._reap_leftovers()
        known = [s.pid for s in self.status(check_health=False) if s.pid]
        try:
            self.rpc().supervisor.shutdown()
        except (OSError, xmlrpc.client.Fault):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        survivors = [p for p in known if pid_alive(p)]
        for p in survivors:
            os.kill(p, signal.SIGKILL)
        supervisor_pidfile(self.topology).unlink(missing_ok=True)
        self._pids_file().unlink(missing_ok=True)
        return survivors

    def record_pids(self) -> None:
        """Remember the pids of the running programs (for a stop after supervisord died)."""
        pids = {s.name: s.pid for s in self.status(check_health=False) if s.pid}
        self._pids_file().write_text(json.dumps(pids))

    def _pids_file(self) -> Path:
        return self.topology.run_dir / "pids.json"

    def _reap_leftovers(self) -> list[int]:
        # supervisord is gone (killed?) but its programs may not be: stop them by recorded pid.
        try:
            pids = json.loads(self._pids_file().read_text())
        except (FileNotFoundError, ValueError):
            return []
        killed = []
        for pid in pids.values():
            if pid_alive(pid):
                os.kill(pid, signal.SIGTERM)
                killed.append(pid)
        time.sleep(1.0)
        for pid in killed:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._pids_file().unlink(missing_ok=True)
        return killed

    # ---- status ---------------------------------------------------------------------

    def status(self, *, check_health: bool = True) -> list[ProcessStatus]:
        """One row per process (pid, port, state, healthy)."""
        infos = {i["name"]: i for i in self.rpc().supervisor.getAllProcessInfo()}
        rows = []
        for process in self.topology.processes():
            info = infos.get(process.name, {})
            state = info.get("statename", "UNKNOWN")
            pid = info.get("pid") or None
            ok = state == "RUNNING" and (not check_health or healthy(self.topology, process))
            rows.append(ProcessStatus(process.name, pid, process.port, state, ok, process.role))
        return rows

    def _failure(self, process: Process, what: str) -> str:
        log = self.topology.log_dir / f"{process.name}.log"
        tail = ""
        if log.exists():
            lines = log.read_text(errors="replace").strip().splitlines()[-5:]
            tail = "\n    " + "\n    ".join(lines) if lines else ""
        return f"{process.name} failed to start ({what}); last lines of {log}:{tail}"


# ---- health checks ----------------------------------------------------------------------


def healthy(topology: Topology, process: Process) -> bool:
    """True when the process answers on its own protocol (or, without a port, runs)."""
    name, port = process.name, process.port
    if name in ("primary", "replica"):
        assert port is not None
        return subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1",
                               "-p", str(port)], check=False).returncode == 0
    if name in ("cache", "broker"):
        return _redis_ping(port or 0)
    if name.startswith("web-"):
        return _http_ok(f"http://127.0.0.1:{port}/livez")
    if name == "nginx":
        return _http_ok(f"{topology.url}/livez")
    if name == "alb":
        return _http_ok(f"{topology.origin_url}/livez")
    if name.startswith("worker-") or name in ("beat", "relay"):
        # beat touches the same file per tick, the relay per loop
        return worker_heartbeat_fresh(topology, name)
    if name == "prometheus":
        return _http_ok(f"{topology.prometheus_url}/-/ready")
    assert port is not None
    return tcp_open(port)


def worker_heartbeat_fresh(topology: Topology, name: str, max_age: float = 30.0) -> bool:
    """The worker health check of docs/celery.md: its heartbeat file is younger than max_age.

    Same test as `python -m config.worker_health`, read from the worker's own TMPDIR without
    starting a Python process per probe.
    """
    beat = topology.tmp_dir(name) / HEARTBEAT_FILE
    try:
        return time.time() - beat.stat().st_mtime < max_age
    except FileNotFoundError:
        return False


def tcp_open(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False




def collectstatic(topology: Topology) -> None:
    """Collect static files as the image build does (build settings, no services needed)."""
    env = {"PATH": str(Path(_python()).parent) + ":/usr/bin:/bin", "LANG": "C.UTF-8",
           "HOME": os.environ.get("HOME", "/root"),
           "DJANGO_SETTINGS_MODULE": "config.settings.build"}
    result = subprocess.run([_python(), "manage.py", "collectstatic", "--noinput", "-v0"],
                            cwd=APP_DIR, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TopologyError(f"collectstatic failed: {result.stderr.strip()[-800:]}")


def migrate(topology: Topology) -> None:
    """Run `entrypoint.sh bootstrap` (the database roles, as the superuser), then `migrate` (as
    the migrations role), with the app's environment; log to logs/migrate.log."""
    log = topology.log_dir / "migrate.log"
    services = topology.dataservices()
    for step, extra in (("bootstrap", [f"DATABASE_MASTER_URL={services.master_url}"]),
                        ("migrate", [])):
        with open(log, "ab") as handle:
            result = subprocess.run(
                [_python(), "-m", "local.launch", str(topology.app_env_file), *extra,
                 f"DATABASE_MIGRATE_URL={services.migrate_url}", "--", str(ENTRYPOINT), step],
                cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, check=False, timeout=900,
            )
        if result.returncode != 0:
            tail = "\n    ".join(log.read_text(errors="replace").strip().splitlines()[-8:])
            raise TopologyError(f"{step} failed (exit {result.returncode}); {log}:\n    {tail}")
