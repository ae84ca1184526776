"""Checks before `make up` starts anything: binaries present, ports free (naming the owner)."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from local.dataservices import PG_BIN, PGBOUNCER, REDIS_SERVER
from local.topology import Topology

BINARIES = {
    # PG_BIN is the installed server found by local/pg_install.py (any major version).
    "postgres": (str(PG_BIN / "postgres"), "postgresql"),
    "pg_basebackup": (str(PG_BIN / "pg_basebackup"), "postgresql"),
    "pgbouncer": (PGBOUNCER, "pgbouncer"),
    "redis-server": (REDIS_SERVER, "redis-server"),
    "nginx": (shutil.which("nginx") or "/usr/sbin/nginx", "nginx"),
    "prometheus": (shutil.which("prometheus") or "/usr/bin/prometheus", "prometheus"),
    "haproxy": (shutil.which("haproxy") or "/usr/sbin/haproxy", "haproxy"),
}


def missing_binaries() -> list[str]:
    """One line per missing binary, naming the package that provides it."""
    missing = []
    for name, (path, package) in BINARIES.items():
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            missing.append(f"{name} (install the package: {package})")
    return missing


def port_free(port: int) -> bool:
    """True when 127.0.0.1:port can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_owner(port: int) -> str:
    """'pid N: command line' of the process listening on `port`, or 'unknown owner'."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    raw = (proc / "cmdline").read_bytes().replace(b"\0", b" ").strip()
                    return f"pid {proc.name}: {raw.decode(errors='replace')[:160]}"
        except OSError:
            continue
    return "unknown owner (another user's process?)"


def busy_ports(topology: Topology) -> list[str]:
    """One line per port of the topology already in use, naming its owner."""
    return [f"port {port} (for {name}) is in use by {port_owner(port)}"
            for port, name in sorted(topology.ports().items()) if not port_free(port)]
