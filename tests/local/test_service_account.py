"""Who runs the data services and where their files live: the caller, or `postgres` for root."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from local.service_account import (
    ServiceAccount,
    ServiceAccountError,
    prepare_home,
    service_account,
    service_home,
)


def test_a_non_root_user_runs_the_services_itself() -> None:
    account = service_account(euid=1234)
    assert account == ServiceAccount(None, 1234, os.getegid())
    assert not account.switches


def test_root_runs_them_as_the_unprivileged_postgres_user() -> None:
    postgres = pwd.getpwnam("postgres")
    account = service_account(euid=0)
    assert (account.user, account.uid, account.gid) == ("postgres", postgres.pw_uid,
                                                        postgres.pw_gid)
    assert account.uid != 0


def test_root_without_the_service_user_is_a_clear_error() -> None:
    with pytest.raises(ServiceAccountError, match=r"'no-such-user'.*install the postgresql"):
        service_account(euid=0, user="no-such-user")


def test_the_caller_keeps_its_files_in_its_state_dir(tmp_path: Path) -> None:
    assert service_home(tmp_path, ServiceAccount(None, 1234, 1234)) == tmp_path


def test_a_switched_user_gets_a_home_of_its_own_per_state_dir(tmp_path: Path) -> None:
    account = ServiceAccount("postgres", 101, 101)
    first = service_home(tmp_path / "a" / ".local" / "data", account, root=tmp_path / "homes")
    again = service_home(tmp_path / "a" / ".local" / "data", account, root=tmp_path / "homes")
    other = service_home(tmp_path / "b" / ".local" / "data", account, root=tmp_path / "homes")
    assert first == again != other
    assert first.parent == tmp_path / "homes"
    assert first.name.startswith("data-")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a dir to another user needs root")
def test_the_home_belongs_to_the_service_user_only(tmp_path: Path) -> None:
    account = service_account()
    root = tmp_path / "homes"
    home = root / "x"
    prepare_home(home, account, root=root)
    info = home.stat()
    assert (info.st_uid, info.st_mode & 0o777) == (account.uid, 0o700)


@pytest.mark.skipif(os.geteuid() != 0, reason="the check of the homes' parent is root's")
def test_a_parent_others_may_write_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "homes"
    root.mkdir()
    root.chmod(0o777)
    with pytest.raises(ServiceAccountError, match="writable only by root"):
        prepare_home(root / "x", service_account(), root=root)
