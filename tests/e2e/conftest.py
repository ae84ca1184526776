"""Fixtures of the end-to-end tests: the whole local topology, brought up by its own CLI.

It runs detached in a temp state dir on a port range of its own, so a developer's `make up`
(on 18000+) keeps running; every request then goes through nginx, as a user's would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.preflight import port_free
from local.principals import auth_headers, principal_token
from local.topology import Topology

ROOT = Path(__file__).resolve().parents[2]
UP_TIMEOUT = 900
"""A generous ceiling: a first `up` on a busy 2-core machine takes minutes, not seconds."""
CANDIDATE_BASES = range(28000, 29000, 100)
PORT_SPAN = 70  # base .. base+69 (local.topology: metrics ports at +40..+63)


@dataclass
class RunningTopology:
    """A topology brought up by `python -m local.cli up --detach`."""

    topology: Topology
    env: dict[str, str]

    def cli(self, *args: str, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run `python -m local.cli <args>` against this topology."""
        return subprocess.run([sys.executable, "-m", "local.cli", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def status(self) -> dict[str, Any]:
        """The CLI's status as data."""
        return json.loads(self.cli("status", "--json", timeout=60).stdout)

    def pid(self, name: str) -> int:
        """The pid of process `name`."""
        return next(p["pid"] for p in self.status()["processes"] if p["name"] == name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that stop the shared topology after every other e2e test, in any order."""
    e2e = [i for i, item in enumerate(items) if item.get_closest_marker("e2e")]
    if not e2e:
        return
    segment = items[e2e[0]:e2e[-1] + 1]
    last = [item for item in segment if item.get_closest_marker("stops_topology")]
    items[e2e[0]:e2e[-1] + 1] = [item for item in segment if item not in last] + last


def free_base() -> int:
    """The first base port whose whole range is free."""
    for base in CANDIDATE_BASES:
        if all(port_free(base + offset) for offset in range(PORT_SPAN)):
            return base
    pytest.fail("no free port range for the e2e topology in 28000-28999")


def topology_env(state: Path, base: int) -> dict[str, str]:
    """The CLI's environment for a topology in `state` on `base`."""
    return {**os.environ, "QUINTET_STATE_DIR": str(state), "QUINTET_BASE_PORT": str(base),
            "DETACH": "1"}


@pytest.fixture(scope="session")
def running() -> Iterator[RunningTopology]:
    """The whole topology, up and healthy; stopped (by the CLI) and wiped at the end."""
    state = Path(tempfile.mkdtemp(prefix="quintet-e2e-"))
    base = free_base()
    env = topology_env(state, base)
    handle = RunningTopology(Topology(state_dir=state, base_port=base), env)
    try:
        result = handle.cli("up", "--detach")
        assert result.returncode == 0, f"make up failed:\n{result.stdout}\n{result.stderr}"
        yield handle
    finally:
        handle.cli("down", timeout=300)
        handle.topology.dataservices().remove()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def editor(running: RunningTopology) -> dict[str, str]:
    """The Authorization header of an editor of the running topology."""
    return auth_headers(principal_token(running.topology, role="editor"))


@pytest.fixture(scope="session")
def customer(running: RunningTopology) -> dict[str, str]:
    """The Authorization header of a customer of the running topology."""
    return auth_headers(principal_token(running.topology, role="customer"))
