"""For real: the data services start from a clone in a private dir, as root and as anyone else.

Run by root, the services run as `postgres`, who cannot enter a 0700 dir: their files must live
where that user can reach them, and the private dir must keep its mode. Run by another user,
they run as that user from its own state dir.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from local.dataservices import (
    APP_PASSWORD,
    APP_USER,
    READONLY_PASSWORD,
    READONLY_USER,
    DataServices,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.services


def reachable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """True when user `uid` (groups `gids`) may enter every dir from / down to `path`."""
    for folder in [*reversed(path.resolve().parents), path.resolve()]:
        info = folder.stat()
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A dir only its owner may enter (as `mktemp -d` or a home dir make it)."""
    path = Path(tempfile.mkdtemp(prefix="quintet-private-"))
    path.chmod(0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the switch to the postgres user is root's")
def test_root_starts_the_services_from_a_0700_clone_without_loosening_it(
    private_dir: Path,
) -> None:
    services = DataServices(private_dir / "q" / ".local" / "data")
    try:
        services.start()
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("app",)
            conn.execute("CREATE TABLE reached (id int)")
        services.wait_replica_caught_up(timeout=60)
        # Through PgBouncer as the app role: the replicas' read-only role comes with the app's
        # bootstrap (entrypoint.sh bootstrap), which this test of the services does not run.
        as_app = services.replica_url.replace(f"{READONLY_USER}:{READONLY_PASSWORD}",
                                              f"{APP_USER}:{APP_PASSWORD}")
        with psycopg.connect(as_app) as conn:
            assert conn.execute("SELECT count(*) FROM reached").fetchone() == (0,)
        account = services.account
        assert account.user == "postgres"
        groups = set(os.getgrouplist(account.user, account.gid))
        assert not reachable_by(services.state_dir, account.uid, groups)
        assert reachable_by(services.home / "primary", account.uid, groups)
        for name, pid in services.status().items():
            assert pid is not None, name
            assert os.stat(f"/proc/{pid}").st_uid == account.uid, name
    finally:
        services.remove()
    assert stat.S_IMODE(private_dir.stat().st_mode) == 0o700
    assert not services.home.exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None,
                    reason="needs root to become another user")
def test_a_non_root_user_runs_the_services_as_itself() -> None:
    nobody = pwd.getpwnam("nobody")
    # The system python: this venv's may live in root's home. local.dataservices is stdlib only.
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None or not reachable_by(ROOT / "local", nobody.pw_uid, {nobody.pw_gid}):
        pytest.skip(f"no system python3, or {ROOT} is private: user nobody cannot read it")
    result = subprocess.run(
        ["runuser", "-u", "nobody", "--", python, "-m", "local.dataservices"],
        cwd=ROOT, env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "TMPDIR": "/tmp"},
        capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    started = json.loads(result.stdout.strip().splitlines()[-1])
    assert started["user"] is None
    assert started["home"].startswith("/tmp/quintet-ds-")
