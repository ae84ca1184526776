"""Who runs the local data services, and where their files live so that user can reach them.

Postgres and PgBouncer refuse to run as root. Run by anyone else, every data service runs as
that user with its files in the state dir it was given. Run by root, they run as the
unprivileged `postgres` user (created by Debian's postgresql package) and their files live in
a dir of their own under /var/lib/quintet, owned by that user: the clone may sit in a private
dir (a home, `mktemp -d`, mode 0700) that `postgres` cannot enter, and quintet does not loosen
the permissions of a user's own dirs to get in.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

ROOT_SERVICE_USER = "postgres"
SERVICE_ROOT = Path("/var/lib/quintet")
"""Parent of the service homes when root runs quintet (persistent, unlike /tmp or /var/tmp)."""


class ServiceAccountError(RuntimeError):
    """No usable account or home for the data services; the message says what to do."""


@dataclass(frozen=True)
class ServiceAccount:
    """The OS account the data services run as."""

    user: str | None
    """The user to switch to, or None: the invoking user runs them."""
    uid: int
    gid: int

    @property
    def switches(self) -> bool:
        """True when the services run as another user than the invoking one."""
        return self.user is not None

    def own(self, path: Path) -> None:
        """Give `path` to the service user (nothing to do when the invoking user runs them)."""
        if self.switches:
            os.chown(path, self.uid, self.gid)


def service_account(euid: int | None = None, user: str = ROOT_SERVICE_USER) -> ServiceAccount:
    """The invoking user unless it is root; then the unprivileged `user`."""
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        return ServiceAccount(None, euid, os.getegid())
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ServiceAccountError(
            f"running as root, the data services need the unprivileged user {user!r}, which "
            "does not exist: install the postgresql package (it creates it), or run as a "
            "non-root user"
        ) from None
    if entry.pw_uid == 0:
        raise ServiceAccountError(f"the service user {user!r} is root; Postgres refuses root")
    return ServiceAccount(user, entry.pw_uid, entry.pw_gid)


def service_home(state_dir: Path, account: ServiceAccount, root: Path = SERVICE_ROOT) -> Path:
    """Where the data services of `state_dir` keep their files for `account`.

    The state dir itself for the invoking user; for a switched user, one dir per state dir
    under `root`, named after it and a digest of its path (the same clone finds its data again).
    """
    state_dir = Path(state_dir).resolve()
    if not account.switches:
        return state_dir
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return root / f"{state_dir.name.strip('.') or 'state'}-{digest}"


def prepare_home(home: Path, account: ServiceAccount, root: Path = SERVICE_ROOT) -> None:
    """Create `home` (mode 0700, owned by the service user); refuse a parent anyone may swap."""
    if account.switches:
        root.mkdir(mode=0o755, parents=True, exist_ok=True)
        info = root.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
            raise ServiceAccountError(
                f"{root} must be a dir owned by root and writable only by root (it holds the "
                "data services' homes); remove it or fix its owner and mode"
            )
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    account.own(home)
    if account.switches:
        home.chmod(0o700)
