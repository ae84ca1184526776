"""The PostgreSQL server is found where it is installed, whatever its major version."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from local import pg_install
from local.pg_install import SERVER_PROGRAMS, debian_bindirs, find_bindir, server_major


def _fake_server(bindir: Path, version: str) -> Path:
    """A bin dir with every server program; `postgres --version` prints `version`."""
    bindir.mkdir(parents=True)
    for name in SERVER_PROGRAMS:
        program = bindir / name
        program.write_text(f"#!/bin/sh\necho 'postgres (PostgreSQL) {version}'\n")
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return bindir


def _no_other_sources(monkeypatch) -> None:
    monkeypatch.setattr(pg_install, "pg_config_bindir", lambda pg_config=None: None)
    monkeypatch.setattr(pg_install, "path_bindir", lambda: None)


def test_the_newest_debian_major_is_found_not_a_fixed_15(tmp_path: Path, monkeypatch) -> None:
    _no_other_sources(monkeypatch)
    for version in ("15", "16", "17"):
        _fake_server(tmp_path / version / "bin", f"{version}.2")
    assert find_bindir(root=tmp_path) == tmp_path / "17" / "bin"
    assert [p.parent.name for p in debian_bindirs(tmp_path)] == ["17", "16", "15"]


def test_majors_compare_as_numbers(tmp_path: Path) -> None:
    for version in ("9.6", "10", "17"):
        _fake_server(tmp_path / version / "bin", version)
    assert [p.parent.name for p in debian_bindirs(tmp_path)] == ["17", "10", "9.6"]


def test_a_bin_dir_without_the_server_does_not_count(tmp_path: Path, monkeypatch) -> None:
    _no_other_sources(monkeypatch)
    _fake_server(tmp_path / "15" / "bin", "15.8")
    client_only = tmp_path / "17" / "bin"  # postgresql-client-17 alone: psql, no postgres
    client_only.mkdir(parents=True)
    (client_only / "psql").write_text("#!/bin/sh\n")
    os.chmod(client_only / "psql", 0o755)
    assert find_bindir(root=tmp_path) == tmp_path / "15" / "bin"


def test_nothing_installed_is_none(tmp_path: Path, monkeypatch) -> None:
    _no_other_sources(monkeypatch)
    assert find_bindir(root=tmp_path / "absent") is None


def test_pg_config_names_the_server_when_debian_paths_are_absent(tmp_path: Path) -> None:
    bindir = _fake_server(tmp_path / "opt" / "pgsql" / "bin", "16.4")
    pg_config = tmp_path / "pg_config"
    pg_config.write_text(f"#!/bin/sh\necho {bindir}\n")
    pg_config.chmod(0o755)
    assert find_bindir(root=tmp_path / "absent", pg_config=str(pg_config)) == bindir


def test_an_existing_cluster_keeps_the_major_it_was_made_with(tmp_path: Path,
                                                                monkeypatch) -> None:
    _no_other_sources(monkeypatch)
    for version in ("15", "17"):
        _fake_server(tmp_path / version / "bin", f"{version}.1")
    cluster = tmp_path / "data" / "primary"
    cluster.mkdir(parents=True)
    (cluster / "PG_VERSION").write_text("15\n")
    assert find_bindir(root=tmp_path, cluster=cluster) == tmp_path / "15" / "bin"
    assert server_major(tmp_path / "17" / "bin") == "17"


def test_the_server_of_this_machine_is_found() -> None:
    found = find_bindir()
    assert found is not None and (found / "postgres").exists()
    assert server_major(found) in {"15", "16", "17", "18"}
