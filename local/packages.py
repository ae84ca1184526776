"""The distribution packages the local services need: which are missing, and installing them.

Stdlib only: scripts/bootstrap.sh runs it with the system python3 before any venv exists.
Root installs with apt-get; anyone else with sudo when sudo can be used here; without either
it prints one line naming the packages and the command, and exits 1. `postgresql` is the
distribution's default major (15 on Debian 12, 16 on Ubuntu 24.04, 17 on Debian 13).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from local.pg_install import find_bindir

PROGRAMS = {
    "pgbouncer": ("pgbouncer", "/usr/sbin/pgbouncer"),
    "redis-server": ("redis-server", "/usr/bin/redis-server"),
    "nginx": ("nginx", "/usr/sbin/nginx"),
    "haproxy": ("haproxy", "/usr/sbin/haproxy"),  # the local ALB (targets change at run time)
    "graphviz": ("dot", "/usr/bin/dot"),
    "wrk": ("wrk", "/usr/bin/wrk"),  # make bench: the closed-loop load generator
    # make up's Prometheus and the promtool rule tests (docs/observability.md).
    "prometheus": ("promtool", "/usr/bin/promtool"),
    # The deploy workflow's steps use jq (GitHub's runners have it); tests/ci runs them as is.
    "jq": ("jq", "/usr/bin/jq"),
}
"""Package -> (program, where Debian puts it when sbin is not on a user's PATH)."""
SERVICES = ("postgresql", "pgbouncer", "redis-server", "nginx", "haproxy")
"""Packaged services Debian starts on install; quintet runs its own, on other ports."""


def _has_venv() -> bool:
    # Debian splits `python3 -m venv` (ensurepip) into python3-venv.
    return importlib.util.find_spec("ensurepip") is not None


def missing_packages(which: Callable[[str], str | None] = shutil.which,
                     pg_bindir: Callable[[], Path | None] = find_bindir,
                     has_venv: Callable[[], bool] = _has_venv) -> list[str]:
    """The packages to install, in a stable order; empty when everything is present."""
    missing = [] if pg_bindir() is not None else ["postgresql"]
    if not has_venv():
        missing.append("python3-venv")
    for package, (program, fallback) in PROGRAMS.items():
        if which(program) is None and not os.access(fallback, os.X_OK):
            missing.append(package)
    return missing


def sudo_usable(which: Callable[[str], str | None] = shutil.which,
                interactive: bool | None = None) -> bool:
    """True when sudo exists and works without a password, or can ask for one on a terminal."""
    if which("sudo") is None:
        return False
    if interactive is None:
        interactive = sys.stdin.isatty()
    if interactive:
        return True
    quiet = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False)
    return quiet.returncode == 0


def install_prefix(euid: int, can_sudo: bool) -> list[str] | None:
    """How to become root for apt-get: [] as root, ["sudo"] with sudo, None when neither."""
    if euid == 0:
        return []
    return ["sudo"] if can_sudo else None


def no_root_line(packages: list[str]) -> str:
    """The one line for a user who can neither be root nor use sudo."""
    names = " ".join(packages)
    return (f"quintet: missing packages {names}; there is no root or sudo here, so ask an "
            f"administrator to run: apt-get install -y --no-install-recommends {names}")


def install(packages: list[str], prefix: list[str]) -> None:
    """apt-get install the packages, then stop the services Debian started for them."""
    print(f"quintet: installing Debian packages: {' '.join(packages)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, check=True)
    subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    *packages], env=env, check=True, stdout=subprocess.DEVNULL)
    # systemd, else SysV `service`; a container or chroot may have neither (nothing started).
    for manager in (["systemctl", "stop"], ["service"]):
        if shutil.which(manager[0]) is None:
            continue
        for service in SERVICES:
            argv = [*prefix, *manager, service] + (["stop"] if manager == ["service"] else [])
            subprocess.run(argv, capture_output=True, check=False)
        break


def main() -> int:
    """Install what is missing (exit 0), or print the one line of what to do (exit 1)."""
    packages = missing_packages()
    if not packages:
        return 0
    if shutil.which("apt-get") is None:
        print(f"quintet: missing packages {' '.join(packages)} and no apt-get here; install "
              "them with this system's package manager", file=sys.stderr)
        return 1
    prefix = install_prefix(os.geteuid(), os.geteuid() == 0 or sudo_usable())
    if prefix is None:
        print(no_root_line(packages), file=sys.stderr)
        return 1
    try:
        install(packages, prefix)
    except subprocess.CalledProcessError as error:
        print(f"quintet: installing {' '.join(packages)} failed (exit {error.returncode}); "
              "see apt-get's message above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
