"""Real data services on loopback: Postgres primary + streaming replica, PgBouncer, two Redis.

Stdlib only. Used by the app tests (a throwaway state dir per session) and by `make up`
(persistent state under .local/). Every daemon is started with a pid file in the service home and
stopped by that pid; stopping is idempotent. Who runs them and where their files live (the
state dir, or a dir under /var/lib/quintet when root runs quintet): local/service_account.py.

Topology (all bound to 127.0.0.1):

    app --(DATABASE_URL)----------> pgbouncer :bouncer / db "app"         -> primary :primary
    app --(DATABASE_REPLICA_URLS)-> pgbouncer :bouncer / db "app_replica" -> replica :replica
    app --(CACHE_URL)-------------> redis "cache"  (allkeys-lru, maxmemory)
    app --(BROKER_URL)------------> redis "broker" (noeviction)

Both databases go through PgBouncer in transaction mode, as the web pods' sidecar does in the
cloud; `direct_*_url` give the unpooled servers for checks that need a session.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from local.pg_install import DEBIAN_ROOT, find_bindir
from local.service_account import (
    ServiceAccount,
    ServiceAccountError,
    prepare_home,
    service_account,
    service_home,
)

PG_BIN = find_bindir() or DEBIAN_ROOT / "<none installed>" / "bin"
"""The installed PostgreSQL server's bin dir (local/pg_install.py); preflight names it if absent."""
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
APP_DB = "app"
APP_REPLICA_DB = "app_replica"
APP_USER = "app"
APP_PASSWORD = "app-local-password"
# The least-privilege roles (created by the app's `entrypoint.sh bootstrap` as the superuser):
# migrations own the schema, the app reads and writes rows, replica readers only read.
MIGRATE_USER, MIGRATE_PASSWORD = "app_migrate", "app-migrate-local-password"
READONLY_USER, READONLY_PASSWORD = "app_readonly", "app-readonly-local-password"
WORKER_STATEMENT_TIMEOUT_SECONDS = {"priority": 30, "default": 45, "low": 360}
"""statement_timeout of each worker pool's connections (its queue's longest hard time limit);
PgBouncer sets it on each server connection of the pool's database `app_worker_<queue>`."""
SERVICES = ("primary", "replica", "pgbouncer", "cache", "broker")


class DataServiceError(RuntimeError):
    """A data service failed to start or stop; the message names it and its log."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Ports:
    """Loopback ports of the five services; 0 means pick a free one."""

    primary: int = 0
    replica: int = 0
    pgbouncer: int = 0
    cache: int = 0
    broker: int = 0

    def resolved(self) -> Ports:
        """Return a copy where every 0 is replaced by a free port."""
        return Ports(**{k: v or free_port() for k, v in asdict(self).items()})


@dataclass
class DataServices:
    """The five local data services of one state directory."""

    state_dir: Path
    ports: Ports = field(default_factory=Ports)
    durable: bool = False
    """fsync on (persistent `make up` state); off for throwaway test clusters."""
    cache_maxmemory: str = "64mb"
    account: ServiceAccount = field(default_factory=lambda: _default_account())
    """Who runs them: the invoking user, or `postgres` when that is root."""
    home: Path = field(init=False)
    """Where their files live: the state dir, or its own dir under /var/lib/quintet for root."""
    bindir: Path = field(init=False)
    """The PostgreSQL server to run: the one that made the clusters on disk, else PG_BIN."""

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        self.home = service_home(self.state_dir, self.account)
        self.bindir = find_bindir(cluster=self.home / "primary") or PG_BIN
        saved = self.home / "ports.json"
        if saved.exists() and self.ports == Ports():
            self.ports = Ports(**json.loads(saved.read_text()))
        self.ports = self.ports.resolved()

    # ---- public API -------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        """Primary through PgBouncer (the app's `default`)."""
        return self._url(self.ports.pgbouncer, APP_DB)

    @property
    def replica_url(self) -> str:
        """Replica through PgBouncer, as the read-only role."""
        return self._url(self.ports.pgbouncer, APP_REPLICA_DB, READONLY_USER, READONLY_PASSWORD)

    @property
    def migrate_url(self) -> str:
        """Primary through PgBouncer as the migrations role (migrate and bootstrap only)."""
        return self._url(self.ports.pgbouncer, APP_DB, MIGRATE_USER, MIGRATE_PASSWORD)

    @property
    def master_url(self) -> str:
        """The superuser, straight to the primary (the bootstrap only)."""
        return f"postgres://postgres@127.0.0.1:{self.ports.primary}/{APP_DB}"

    def worker_database_url(self, queue: str) -> str:
        """Primary through PgBouncer with the statement_timeout of `queue`'s worker pool."""
        return self._url(self.ports.pgbouncer, f"{APP_DB}_worker_{queue}")

    @property
    def direct_primary_url(self) -> str:
        """Primary without PgBouncer (session features, admin checks)."""
        return self._url(self.ports.primary, APP_DB)

    @property
    def direct_migrate_url(self) -> str:
        """Primary without PgBouncer as the migrations role (session options, e.g. PGOPTIONS)."""
        return self._url(self.ports.primary, APP_DB, MIGRATE_USER, MIGRATE_PASSWORD)

    @property
    def direct_replica_url(self) -> str:
        """Replica without PgBouncer."""
        return self._url(self.ports.replica, APP_DB)

    @property
    def cache_url(self) -> str:
        """The LRU cache Redis."""
        return f"redis://127.0.0.1:{self.ports.cache}/0"

    @property
    def broker_url(self) -> str:
        """The noeviction broker Redis."""
        return f"redis://127.0.0.1:{self.ports.broker}/0"

    def urls(self) -> dict[str, str]:
        """The URLs the app's environment contract asks for."""
        return {
            "DATABASE_URL": self.database_url,
            "DATABASE_REPLICA_URLS": self.replica_url,
            "CACHE_URL": self.cache_url,
            "BROKER_URL": self.broker_url,
        }

    def start(self) -> DataServices:
        """Create what is missing and start every service not running; wait until ready."""
        self.prepare()
        (self.home / "ports.json").write_text(json.dumps(asdict(self.ports)))
        for name in SERVICES:
            self.start_service(name)
        return self

    def stop(self) -> None:
        """Stop every service by pid (replica before primary); safe to call twice."""
        for name in ("pgbouncer", "replica", "primary", "cache", "broker"):
            self.stop_service(name)

    def prepare(self) -> None:
        """Create the service home (owned by the service user), its socket and Redis dirs."""
        try:
            prepare_home(self.home, self.account)
        except ServiceAccountError as error:
            raise DataServiceError(str(error)) from None
        for sub in (self._socket_dir(), self.home / "cache", self.home / "broker"):
            sub.mkdir(exist_ok=True)
            self.account.own(sub)

    def remove(self) -> None:
        """Stop every service and delete the service home (all data); safe to call twice."""
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def status(self) -> dict[str, int | None]:
        """Map each service to its running pid, or None."""
        return {name: self._running_pid(name) for name in SERVICES}

    def command(self, name: str) -> list[str]:
        """The foreground command line of one service (what a process manager runs)."""
        if name in ("primary", "replica"):
            port = self.ports.primary if name == "primary" else self.ports.replica
            return [str(self.bindir / "postgres"), "-D", str(self._pg_dir(name)),
                    *self._pg_settings(port)]
        if name == "pgbouncer":
            return [PGBOUNCER, str(self.home / "pgbouncer" / "pgbouncer.ini")]
        if name in ("cache", "broker"):
            return self._redis_args(name)
        raise DataServiceError(f"unknown service {name!r}; known: {', '.join(SERVICES)}")

    def os_user(self, name: str) -> str | None:
        """The OS user a service must run as (Postgres and PgBouncer refuse root), or None."""
        return self.account.user if name in SERVICES else None

    def initialized(self) -> bool:
        """True once both clusters exist on disk (initdb and the base backup are done)."""
        return all((self._pg_dir(n) / "PG_VERSION").exists() for n in ("primary", "replica"))

    def start_service(self, name: str) -> None:
        """Start one service (creating its data on first use) and wait until it is ready."""
        if self._running_pid(name):
            return
        starters = {
            "primary": self._start_primary,
            "replica": self._start_replica,
            "pgbouncer": self._start_pgbouncer,
            "cache": lambda: self._start_redis("cache", self.ports.cache, "allkeys-lru"),
            "broker": lambda: self._start_redis("broker", self.ports.broker, "noeviction"),
        }
        if name not in starters:
            raise DataServiceError(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
        starters[name]()

    def stop_service(self, name: str, timeout: float = 10.0) -> None:
        """Stop one service by its pid file (SIGINT = Postgres fast shutdown); idempotent."""
        pid = self._running_pid(name)
        if pid is not None:
            os.kill(pid, signal.SIGCONT)  # a frozen process cannot act on the stop signal
            os.kill(pid, signal.SIGINT if name in ("primary", "replica") else signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                while pid_alive(pid):
                    time.sleep(0.02)
        self._pidfile(name).unlink(missing_ok=True)

    def freeze_service(self, name: str) -> None:
        """SIGSTOP one service: it keeps its port but answers nothing (a hung server)."""
        pid = self._running_pid(name)
        if pid is None:
            raise DataServiceError(f"{name} is not running")
        os.kill(pid, signal.SIGSTOP)

    def thaw_service(self, name: str) -> None:
        """SIGCONT a frozen service."""
        pid = self._running_pid(name)
        if pid is not None:
            os.kill(pid, signal.SIGCONT)

    def pause_replay(self) -> None:
        """Pause WAL replay on the replica (simulates replica lag)."""
        self.psql("replica", "SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        """Resume WAL replay on the replica."""
        self.psql("replica", "SELECT pg_wal_replay_resume()")

    def wait_replica_caught_up(self, timeout: float = 60.0) -> None:
        """Wait until the replica has replayed everything the primary has written."""
        # The insert position: with synchronous_commit off a commit may not be written yet.
        target = self.psql("primary", "SELECT pg_current_wal_insert_lsn()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.psql("replica", f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
            if done == "t":
                return
            time.sleep(0.05)
        raise DataServiceError(f"replica did not reach {target} within {timeout}s")

    def psql(self, server: str, sql: str, database: str = APP_DB) -> str:
        """Run one SQL statement as the superuser on `primary` or `replica`; return stdout."""
        port = self.ports.primary if server == "primary" else self.ports.replica
        out = _run(
            [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
             "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
            f"psql on {server}",
        )
        return out.strip()

    # ---- Postgres ---------------------------------------------------------------------

    def _pg_dir(self, name: str) -> Path:
        return self.home / name

    def _socket_dir(self) -> Path:
        return self.home / "pgsock"

    def _pg_settings(self, port: int) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(self._socket_dir()),
            "wal_level": "replica",
            "hot_standby": "on",
            "max_wal_senders": "5",
            "max_connections": "200",
            "logging_collector": "off",
        }
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        args: list[str] = []
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return args

    def _start_primary(self) -> None:
        data = self._pg_dir("primary")
        fresh = not (data / "PG_VERSION").exists()
        if fresh:
            data.mkdir(exist_ok=True)
            self.account.own(data)
            self._run_as_service(
                [str(self.bindir / "initdb"), "-D", str(data),
                 "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
                 "--auth-local=trust", "--auth-host=scram-sha-256"], "initdb")
            hba = (
                "local all all trust\n"
                "host replication postgres 127.0.0.1/32 trust\n"
                "host all postgres 127.0.0.1/32 trust\n"
                "host all all 127.0.0.1/32 scram-sha-256\n"
            )
            (data / "pg_hba.conf").write_text(hba)
        self._spawn_postgres("primary", self.ports.primary)
        if fresh:
            self.psql("primary", f"CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}'",
                      database="postgres")
            self.psql("primary", f"CREATE DATABASE {APP_DB} OWNER {APP_USER}", database="postgres")

    def _start_replica(self) -> None:
        data = self._pg_dir("replica")
        if not (data / "PG_VERSION").exists():
            data.mkdir(exist_ok=True)
            os.chmod(data, 0o700)
            self.account.own(data)
            self._run_as_service(
                [str(self.bindir / "pg_basebackup"),
                 "-h", "127.0.0.1", "-p", str(self.ports.primary), "-U", "postgres",
                 "-D", str(data), "-R", "-X", "stream", "--no-sync", "-c", "fast"],
                "pg_basebackup")
        self._spawn_postgres("replica", self.ports.replica)

    def _spawn_postgres(self, name: str, port: int) -> None:
        data = self._pg_dir(name)
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            self.command(name), **self._as_service(), stdout=log, stderr=log,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=data,
        )
        log.close()
        self._write_pid(name, proc.pid)
        self._wait(name, proc, lambda: _pg_ready(port))

    # ---- PgBouncer --------------------------------------------------------------------

    def _start_pgbouncer(self) -> None:
        self.write_pgbouncer_config()
        proc = subprocess.Popen(
            self.command("pgbouncer"), **self._as_service(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._write_pid("pgbouncer", proc.pid)
        self._wait("pgbouncer", proc, lambda: _tcp_open(self.ports.pgbouncer))

    def write_pgbouncer_config(self) -> None:
        """Write pgbouncer.ini and its auth file for the current ports."""
        conf_dir = self.home / "pgbouncer"
        conf_dir.mkdir(exist_ok=True)
        self.account.own(conf_dir)  # PgBouncer writes its log here
        (conf_dir / "userlist.txt").write_text("".join(
            f'"{user}" "{password}"\n' for user, password in (
                (APP_USER, APP_PASSWORD), (MIGRATE_USER, MIGRATE_PASSWORD),
                (READONLY_USER, READONLY_PASSWORD))))
        workers = "".join(
            f"{APP_DB}_worker_{queue} = host=127.0.0.1 port={self.ports.primary} dbname={APP_DB}"
            f" connect_query='SET statement_timeout = {seconds * 1000}'\n"
            for queue, seconds in WORKER_STATEMENT_TIMEOUT_SECONDS.items())
        ini = f"""[databases]
{APP_DB} = host=127.0.0.1 port={self.ports.primary} dbname={APP_DB}
{APP_REPLICA_DB} = host=127.0.0.1 port={self.ports.replica} dbname={APP_DB}
{workers}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.ports.pgbouncer}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {conf_dir / "userlist.txt"}
pool_mode = transaction
stats_users = {APP_USER}
max_client_conn = 2000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
server_connect_timeout = 2
query_wait_timeout = 10
logfile = {conf_dir / "pgbouncer.log"}
"""
        (conf_dir / "pgbouncer.ini").write_text(ini)

    # ---- Redis ------------------------------------------------------------------------

    def _start_redis(self, name: str, port: int, policy: str) -> None:
        proc = subprocess.Popen(self._redis_args(name), **self._as_service(),
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self._write_pid(name, proc.pid)
        self._wait(name, proc, lambda: _redis_ready(port))

    def _redis_args(self, name: str) -> list[str]:
        port = self.ports.cache if name == "cache" else self.ports.broker
        policy = "allkeys-lru" if name == "cache" else "noeviction"
        data = self.home / name
        args = [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data),
                "--daemonize", "no", "--save", "", "--appendonly", "no",
                "--maxmemory-policy", policy, "--logfile", str(self.home / f"{name}.log")]
        if name == "cache":
            args += ["--maxmemory", self.cache_maxmemory]
        elif self.durable:
            args += ["--appendonly", "yes"]  # the broker keeps its queues across restarts
        return args

    # ---- plumbing ---------------------------------------------------------------------

    def _as_service(self) -> dict[str, Any]:
        """Popen arguments that switch to the service user (none when it is the invoking one)."""
        account = self.account
        return {"user": account.uid, "group": account.gid, "extra_groups": []} \
            if account.switches else {}

    def _run_as_service(self, argv: list[str], what: str) -> str:
        result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                cwd=self.home, **self._as_service())
        if result.returncode != 0:
            raise DataServiceError(f"{what} failed ({result.returncode}): "
                                   f"{result.stderr.strip()}")
        return result.stdout

    def _url(self, port: int, db: str, user: str = APP_USER, password: str = APP_PASSWORD) -> str:
        return f"postgres://{user}:{password}@127.0.0.1:{port}/{db}"

    def _pidfile(self, name: str) -> Path:
        return self.home / f"{name}.pid"

    def _write_pid(self, name: str, pid: int) -> None:
        self._pidfile(name).write_text(f"{pid}\n")

    def _running_pid(self, name: str) -> int | None:
        try:
            pid = int(self._pidfile(name).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def _wait(self, name: str, proc: subprocess.Popen[bytes], ready: object,
              timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._pidfile(name).unlink(missing_ok=True)
                raise DataServiceError(f"{name} exited with {proc.returncode}; see "
                                       f"{self.home / (name + '.log')}")
            if ready():  # type: ignore[operator]
                return
            time.sleep(0.02)
        self.stop_service(name)
        raise DataServiceError(f"{name} not ready within {timeout}s")


def _default_account() -> ServiceAccount:
    try:
        return service_account()
    except ServiceAccountError as error:
        raise DataServiceError(str(error)) from None


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (reaping it if it is our child)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap our own children
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _run(argv: list[str], what: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DataServiceError(f"{what} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _pg_ready(port: int) -> bool:
    result = subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
                            check=False)
    return result.returncode == 0


def _redis_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def main() -> None:
    """Bring the services up in a temp dir, print their URLs and the bring-up time, stop."""
    state = Path(tempfile.mkdtemp(prefix="quintet-ds-"))
    started = time.monotonic()
    services = DataServices(state)
    try:
        services.start()
        print(json.dumps({"seconds": round(time.monotonic() - started, 2),
                          "user": services.account.user, "home": str(services.home),
                          **services.urls()}))
    finally:
        services.remove()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
