"""``make lint`` (migrations): squawk over each migration's SQL, and the backward-compat check.

``sqlmigrate`` needs a database connection, so this starts a throwaway set of the local data
services on free loopback ports, asks the app for every migration's SQL
(``manage.py migration_check --sql-dir``, which also runs the backward-compatibility check of
core/migration_safety.py), lints it with squawk (.squawk.toml), and stops the services.
Each file starts with the session settings the migrations role runs with, so squawk judges the
SQL as PostgreSQL will run it. Exit 1 with squawk's and the check's messages on any finding.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from local.dataservices import DataServices

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app_image"
SQUAWK_CONFIG = ROOT / ".squawk.toml"
ROLES_MODULE = Path("core") / "db_roles.py"
LOCK_TIMEOUT_NAME = "MIGRATE_LOCK_TIMEOUT"


def migration_lock_timeout(app_dir: Path) -> str:
    """The lock_timeout the bootstrap sets on the migrations role (``ALTER ROLE ... SET``), read
    from the app's own constant so the lint and the role never disagree."""
    path = app_dir / ROLES_MODULE
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == LOCK_TIMEOUT_NAME
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return node.value.value
    raise ValueError(f"{path} has no string constant {LOCK_TIMEOUT_NAME} (the migrations "
                     "role's lock_timeout, e.g. '10s')")


def _venv_tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def migration_sql(app_dir: Path, database_url: str, out: Path) -> subprocess.CompletedProcess:
    """Writes each migration's SQL under ``out`` and runs the compatibility check."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.build", "DATABASE_URL": database_url})
    return subprocess.run(
        [sys.executable, "manage.py", "migration_check", "--sql-dir", str(out)],
        cwd=app_dir, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def prefix_session_settings(out: Path, lock_timeout: str) -> None:
    """Starts each file with the settings every migration session has (the role's)."""
    for path in sorted(out.glob("*.sql")):
        lines = path.read_text().splitlines(keepends=True)
        head = 0
        while head < len(lines) and lines[head].startswith("-- squawk-"):
            head += 1  # squawk's file-level directives stay first
        setting = f"SET lock_timeout = '{lock_timeout}';\n"
        path.write_text("".join([*lines[:head], setting, *lines[head:]]))


def squawk(out: Path) -> subprocess.CompletedProcess:
    """squawk over every file, with the project's config."""
    files = sorted(str(p) for p in out.glob("*.sql"))
    return subprocess.run(
        [_venv_tool("squawk"), "--config", str(SQUAWK_CONFIG), "--reporter", "gcc", *files],
        capture_output=True, text=True, timeout=120, check=False,
    )


def lint(app_dir: Path, database_url: str | None = None) -> tuple[int, str]:
    """Exit status and what to print, for the migrations of the app in ``app_dir``.

    ``database_url`` names an empty, unmigrated database to ask for the SQL (the tests share
    one); without it a throwaway set of services is started and removed.
    """
    state = Path(tempfile.mkdtemp(prefix="quintet-migration-lint-"))
    out = state / "sql"
    if database_url is not None:
        checked = migration_sql(app_dir, database_url, out)
    else:
        services = DataServices(state / "services")  # removed below; the SQL under state stays
        try:
            services.start()
            checked = migration_sql(app_dir, services.direct_primary_url, out)
        finally:
            services.remove()  # its data too (a dir of its own under /var/lib/quintet for root)
    try:
        report = [line for line in checked.stderr.splitlines()
                  if line.startswith(("migration check:", "CommandError:"))]
        if checked.returncode != 0 and not report:
            return 1, f"migration check failed:\n{checked.stderr[-2000:]}"
        prefix_session_settings(out, migration_lock_timeout(app_dir))
        linted = squawk(out)
        text = "\n".join([*report, linted.stdout.strip()]).strip()
        count = len(list(out.glob("*.sql")))
        status = 1 if (report or linted.returncode != 0) else 0
        summary = f"migrations: {count} checked, " + ("problems found" if status else "all safe")
        return status, f"{text}\n{summary}".strip()
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Command line of the migrations lint; --app-dir lints another copy of the app."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app-dir", type=Path, default=APP_DIR)
    args = parser.parse_args(argv)
    status, text = lint(args.app_dir.resolve())
    print(text, file=sys.stderr if status else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
