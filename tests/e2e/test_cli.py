"""The local CLI's refusals and the environment it builds, without bringing anything up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from local import cli
from local.topology import CONTRACT, PROCESS_BASE, Topology, TopologyError
from tests.e2e.conftest import ROOT, free_base, topology_env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "local.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_app_env_supplies_every_required_variable_and_nothing_outside(tmp_path: Path) -> None:
    contract = json.loads(CONTRACT.read_text())
    env = Topology(state_dir=tmp_path).app_env()
    required = {v["name"] for v in contract if v["required"]}
    assert required <= set(env), sorted(required - set(env))
    assert set(env) - {v["name"] for v in contract} == set(PROCESS_BASE) - {"TMPDIR"}


def test_a_required_variable_the_runner_does_not_know_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    contract = [*json.loads(CONTRACT.read_text()),
                {"name": "NEW_THING_URL", "required": True, "secret": False, "type": "http_url",
                 "default": None, "description": "x", "example": "http://x"}]
    path = tmp_path / "environment.json"
    path.write_text(json.dumps(contract))
    monkeypatch.setattr("local.topology.CONTRACT", path)
    with pytest.raises(TopologyError, match="NEW_THING_URL"):
        Topology(state_dir=tmp_path / "state").app_env()


def test_a_port_in_use_is_named_with_its_owner_and_nothing_starts(tmp_path: Path) -> None:
    base = free_base()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", base + 1))
        sock.listen()
        result = _cli(topology_env(tmp_path / "state", base), "up", "--detach")
    assert result.returncode == 1
    assert f"port {base + 1}" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state" / "run" / "supervisord.pid").exists()


def test_missing_binaries_without_apt_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "missing_binaries", lambda: ["nginx (install the package: nginx)"])
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    with pytest.raises(TopologyError) as error:
        cli.up(Topology(state_dir=tmp_path, base_port=free_base()), detach=True)
    assert "install the package: nginx" in str(error.value)
    assert "no apt-get" in str(error.value)


def test_a_bad_base_port_is_one_line_without_traceback(tmp_path: Path) -> None:
    env = {**topology_env(tmp_path, 1), "QUINTET_BASE_PORT": "eighteen"}
    result = _cli(env, "status")
    assert result.returncode == 1
    assert "QUINTET_BASE_PORT='eighteen'" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_and_down_when_nothing_runs(tmp_path: Path) -> None:
    env = topology_env(tmp_path, free_base())
    assert _cli(env, "status").returncode == 1
    down = _cli(env, "down")
    assert down.returncode == 0 and "not running" in down.stdout


def test_status_while_supervisord_shuts_down_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    import xmlrpc.client

    def shutting_down(self: object) -> None:
        raise xmlrpc.client.Fault(6, "SHUTDOWN_STATE")

    monkeypatch.setenv("QUINTET_STATE_DIR", str(tmp_path))
    monkeypatch.setattr("local.supervise.Supervisor.pid", lambda self: 4242)
    monkeypatch.setattr("local.supervise.Supervisor.status", shutting_down)
    assert cli.main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("quintet: supervisord did not answer") and "SHUTDOWN_STATE" in err
    assert "Traceback" not in err
