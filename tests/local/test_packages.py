"""Missing packages are found and installed, or named in one line with the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from local import packages
from local.packages import install_prefix, missing_packages, no_root_line


def _which(present: set[str]):
    return lambda program: f"/usr/bin/{program}" if program in present else None


def test_nothing_missing_on_this_machine() -> None:
    assert missing_packages() == []


def test_each_missing_program_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages, "PROGRAMS", {k: (p, "/nonexistent/" + p)
                                                for k, (p, _) in packages.PROGRAMS.items()})
    present = {"nginx", "haproxy", "promtool", "dot", "wrk", "jq"}
    assert missing_packages(_which(present), lambda: None, lambda: True) == [
        "postgresql", "pgbouncer", "redis-server"]
    assert missing_packages(_which({"pgbouncer", "redis-server", *present}),
                            lambda: Path("/x"), lambda: False) == ["python3-venv"]


def test_root_installs_directly_sudo_otherwise_and_nobody_without_either() -> None:
    assert install_prefix(0, can_sudo=False) == []
    assert install_prefix(1000, can_sudo=True) == ["sudo"]
    assert install_prefix(1000, can_sudo=False) is None


def test_sudo_is_usable_only_when_present() -> None:
    assert packages.sudo_usable(_which(set()), interactive=True) is False
    assert packages.sudo_usable(_which({"sudo"}), interactive=True) is True


def test_without_root_or_sudo_one_line_names_the_packages_and_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(packages, "missing_packages", lambda: ["postgresql", "pgbouncer"])
    monkeypatch.setattr(packages.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(packages, "sudo_usable", lambda: False)
    monkeypatch.setattr(packages.shutil, "which", lambda p: "/usr/bin/apt-get")
    monkeypatch.setattr(packages, "install", lambda *a: pytest.fail("must not try to install"))
    assert packages.main() == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.strip() == no_root_line(["postgresql", "pgbouncer"])
    assert "apt-get install -y --no-install-recommends postgresql pgbouncer" in err


def test_install_works_where_there_is_no_service_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    # A container or chroot: apt-get runs, no systemctl or service to stop anything with.
    ran: list[list[str]] = []
    monkeypatch.setattr(packages.shutil, "which", lambda p: None)
    monkeypatch.setattr(packages.subprocess, "run",
                        lambda argv, **kw: ran.append(argv) or FakeResult())
    packages.install(["pgbouncer"], [])
    assert [argv[0] for argv in ran] == ["apt-get", "apt-get"]


class FakeResult:
    """What the stand-in for subprocess.run returns."""

    returncode = 0
