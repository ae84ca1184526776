"""`python -m local.cli up|down|status|reset|rollout`: the local topology's command line.

Errors the user can act on are one message and exit 1, never a traceback; a failed `up` stops
whatever it had started.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
import xmlrpc.client
from dataclasses import asdict

from local.dataservices import DataServiceError
from local.preflight import busy_ports, missing_binaries
from local.rollout import rollout
from local.s3server import bucket_ensure
from local.supervise import (
    ProcessStatus,
    Supervisor,
    collectstatic,
    migrate,
)
from local.topology import Topology, TopologyError


def _say(message: str) -> None:
    print(message, flush=True)


def status_table(rows: list[ProcessStatus]) -> str:
    """The status table: process, pid, port, healthy, role."""
    lines = [f"{'process':<16} {'pid':>7} {'port':>6}  {'healthy':<8} role",
             f"{'-' * 16} {'-' * 7} {'-' * 6}  {'-' * 8} {'-' * 28}"]
    for row in rows:
        healthy = "yes" if row.healthy else f"no ({row.state.lower()})"
        lines.append(f"{row.name:<16} {row.pid or '-':>7} {row.port or '-':>6}  "
                     f"{healthy:<8} {row.role}")
    return "\n".join(lines)


def _check_saved_ports(topology: Topology) -> None:
    saved = topology.state_dir / "topology.json"
    if saved.exists():
        base = json.loads(saved.read_text()).get("base_port")
        if base != topology.base_port:
            raise TopologyError(
                f"the state in {topology.state_dir} was made with QUINTET_BASE_PORT={base} (the "
                f"replica follows the primary on that port); run with QUINTET_BASE_PORT={base}, "
                "or `make reset` to start from scratch"
            )
    else:
        topology.state_dir.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps({"base_port": topology.base_port}))


def _prepare_data(topology: Topology) -> None:
    services = topology.dataservices()
    if not services.initialized():
        _say("first run: creating the Postgres primary, its streaming replica and PgBouncer")
        try:
            services.start()  # initdb, roles, base backup; then handed to supervisord
        finally:
            services.stop()
    services.prepare()
    services.write_pgbouncer_config()


def _write_app_env(topology: Topology) -> None:
    topology.run_dir.mkdir(parents=True, exist_ok=True)
    path = topology.app_env_file
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(topology.app_env(), indent=1))


def up(topology: Topology, *, detach: bool) -> int:
    """Start everything, stage by stage; print the table; stay in the foreground unless detach."""
    supervisor = Supervisor(topology)
    pid = supervisor.pid()
    if pid is not None:
        raise TopologyError(
            f"the local topology is already running (supervisord pid {pid}, state in "
            f"{topology.state_dir}) at {topology.url}; `make status` shows it, `make down` stops it"
        )
    missing = missing_binaries()
    if missing:
        hint = ("run `make bootstrap` (installs them with apt-get)" if shutil.which("apt-get")
                else "this machine has no apt-get: install them with its package manager")
        raise TopologyError("missing programs:\n  " + "\n  ".join(missing) + f"\n{hint}")
    busy = busy_ports(topology)
    if busy:
        raise TopologyError("ports needed by the topology are taken:\n  " + "\n  ".join(busy)
                            + "\nstop those processes or pick other ports with "
                              "QUINTET_BASE_PORT=<port> (uses <port> to <port>+69)")
    _check_saved_ports(topology)
    started = time.monotonic()
    try:
        _prepare_data(topology)
        _write_app_env(topology)
        collectstatic(topology)
        supervisor.launch()
        processes = topology.processes()
        for stage in sorted({p.stage for p in processes}):
            if stage == 4:
                _say("  uploads bucket   creating")
                bucket_ensure(topology.s3_url)
                _say("  migrate          running")
                migrate(topology)
            supervisor.start_stage([p for p in processes if p.stage == stage], on_progress=_say)
        supervisor.record_pids()
    except (TopologyError, DataServiceError, KeyboardInterrupt, OSError) as error:
        _say("stopping what was started ...")
        supervisor.shutdown()
        if isinstance(error, KeyboardInterrupt):
            raise
        raise TopologyError(str(error)) from None
    _say("")
    _say(status_table(supervisor.status()))
    _say(f"\nquintet is up in {time.monotonic() - started:.1f}s: {topology.url}  "
         f"(origin without the edge cache: {topology.origin_url})")
    _say(f"state and logs: {topology.state_dir}")
    if detach:
        _say("`make status` shows the table, `make down` stops everything.")
        return 0
    _say("Ctrl-C stops everything.")
    try:
        while supervisor.pid() is not None:
            time.sleep(1)
        _say("supervisord has gone away; stopping what is left")
    except KeyboardInterrupt:
        _say("\nstopping ...")
    down(topology)
    return 0


def down(topology: Topology) -> int:
    """Stop every process of the topology (state is kept)."""
    supervisor = Supervisor(topology)
    running = supervisor.pid() is not None
    survivors = supervisor.shutdown()
    if survivors:
        _say(f"killed {len(survivors)} process(es) that outlived supervisord: {survivors}")
    _say("quintet is stopped (state kept in "
         f"{topology.state_dir}; `make reset` wipes it)." if running else "quintet is not running.")
    return 0


def status(topology: Topology, *, as_json: bool) -> int:
    """Print the status table (exit 1 when not running or something is unhealthy)."""
    supervisor = Supervisor(topology)
    if supervisor.pid() is None:
        if as_json:
            print(json.dumps({"running": False, "processes": []}))
        else:
            _say(f"quintet is not running (state dir {topology.state_dir}); `make up` starts it.")
        return 1
    rows = supervisor.status()
    if as_json:
        print(json.dumps({"running": True, "supervisord_pid": supervisor.pid(),
                          "url": topology.url, "origin_url": topology.origin_url,
                          "processes": [asdict(r) for r in rows]}))
    else:
        _say(status_table(rows))
        _say(f"\n{topology.url}")
    return 0 if all(r.healthy for r in rows) else 1


def reset(topology: Topology) -> int:
    """Stop everything and wipe the state dir (and the data services' home, when apart)."""
    Supervisor(topology).shutdown()
    services = topology.dataservices()
    if services.home.exists() and services.home != topology.data_dir:
        services.remove()
        _say(f"removed {services.home}")
    if topology.state_dir.exists():
        shutil.rmtree(topology.state_dir)
        _say(f"removed {topology.state_dir}")
    else:
        _say(f"nothing to remove at {topology.state_dir}")
    return 0


def rollout_command(topology: Topology) -> int:
    """Roll every web process and worker pool (local/rollout.py), printing each step."""
    started = time.monotonic()
    _say("rolling the web processes (maxSurge 1, maxUnavailable 0), then the worker pools")
    steps = rollout(topology, on_progress=_say)
    _say(f"rollout done in {time.monotonic() - started:.1f}s: {len(steps)} processes replaced")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command and run it; user errors are one message, exit 1."""
    parser = argparse.ArgumentParser(prog="python -m local.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start the topology")
    up_parser.add_argument("--detach", action="store_true", help="return once all is healthy")
    sub.add_parser("down", help="stop everything (state is kept)")
    status_parser = sub.add_parser("status", help="print the status table")
    status_parser.add_argument("--json", action="store_true")
    sub.add_parser("reset", help="stop everything and wipe the state dir")
    sub.add_parser("rollout", help="replace every web process, then every worker pool")
    args = parser.parse_args(argv)
    # Ctrl-C stops cleanly even when started with SIGINT ignored (a background job), and
    # SIGTERM (a CI runner, `kill`) stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        topology = Topology.from_env()
        if args.command == "up":
            detach = args.detach or os.environ.get("DETACH", "") not in ("", "0")
            return up(topology, detach=detach)
        if args.command == "down":
            return down(topology)
        if args.command == "status":
            return status(topology, as_json=args.json)
        if args.command == "rollout":
            return rollout_command(topology)
        return reset(topology)
    except TopologyError as error:
        print(f"quintet: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("quintet: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except (xmlrpc.client.Fault, xmlrpc.client.ProtocolError, OSError) as error:
        # supervisord is starting or shutting down (or gone) between our checks and the call.
        print(f"quintet: supervisord did not answer ({error}); it may be starting or "
              "stopping: try again in a few seconds, or `make down`", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
