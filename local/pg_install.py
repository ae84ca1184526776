"""Which PostgreSQL server is installed: its bin dir, found rather than assumed.

Debian and Ubuntu install each major version under /usr/lib/postgresql/<major>/bin (15 on
Debian 12, 16 on Ubuntu 24.04, 17 on Debian 13); other systems put the server where
`pg_config --bindir` says or on PATH. The newest installed major wins, unless a cluster on disk
names the major it was made with (PG_VERSION), which is the only one that can open it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

DEBIAN_ROOT = Path("/usr/lib/postgresql")
SERVER_PROGRAMS = ("postgres", "initdb", "pg_basebackup", "pg_isready", "psql")
"""What the local data services run; a bin dir counts only when it has all of them."""


def _complete(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in SERVER_PROGRAMS)


def _major(name: str) -> tuple[int, str]:
    # "17" > "16" > "9.6": compare numerically; an odd name sorts last.
    head = name.split(".")[0]
    return (int(head), name) if head.isdigit() else (-1, name)


def debian_bindirs(root: Path = DEBIAN_ROOT) -> list[Path]:
    """Complete bin dirs under /usr/lib/postgresql/<major>/bin, newest major first."""
    if not root.is_dir():
        return []
    versions = sorted((d.name for d in root.iterdir() if d.is_dir()), key=_major, reverse=True)
    return [root / v / "bin" for v in versions if _complete(root / v / "bin")]


def pg_config_bindir(pg_config: str | None = None) -> Path | None:
    """The bin dir `pg_config --bindir` reports, when it holds a complete server."""
    program = pg_config or shutil.which("pg_config")
    if program is None:
        return None
    try:
        out = subprocess.run([program, "--bindir"], capture_output=True, text=True,
                             timeout=10, check=False).stdout.strip()
    except OSError:
        return None
    # On Debian pg_config comes with libpq-dev and may name a version whose server is absent.
    return Path(out) if out and _complete(Path(out)) else None


def path_bindir() -> Path | None:
    """The dir of `initdb` on PATH (Fedora, Arch, Homebrew), when it holds a complete server."""
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb and _complete(Path(initdb).resolve().parent) \
        else None


def find_bindir(*, root: Path = DEBIAN_ROOT, pg_config: str | None = None,
                cluster: Path | None = None) -> Path | None:
    """The server bin dir to use, or None when no complete PostgreSQL server is installed.

    `cluster`: a data dir that may already exist; its PG_VERSION picks that major when present.
    """
    candidates = [*debian_bindirs(root), pg_config_bindir(pg_config), path_bindir()]
    found = [c for c in candidates if c is not None]
    if cluster is not None and (cluster / "PG_VERSION").is_file():
        made_with = (cluster / "PG_VERSION").read_text().strip()
        for bindir in found:
            if server_major(bindir) == made_with:
                return bindir
    return found[0] if found else None


def server_major(bindir: Path) -> str | None:
    """The major version of the server in `bindir` ("15", "17"), from `postgres --version`."""
    try:
        out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except OSError:
        return None
    # "postgres (PostgreSQL) 17.6 (Debian 17.6-0+deb13u1)"
    words = out.split()
    version = words[2] if len(words) > 2 else ""
    return version.split(".")[0] or None
