"""Least privilege in the database, on the real primary and replica through PgBouncer: the
roles the bootstrap process creates (core/db_roles.py) and each process type's timeouts."""

from __future__ import annotations

import psycopg
import pytest

from local.dataservices import WORKER_STATEMENT_TIMEOUT_SECONDS, DataServices
from local.migration_lint import APP_DIR, migration_lock_timeout
from tests.app.conftest import admin_env, run_entrypoint

pytestmark = pytest.mark.services
# The app's constant (core/db_roles.py), as the migration lint reads it: one value for both.
MIGRATE_LOCK_TIMEOUT = migration_lock_timeout(APP_DIR)


def _one(url: str, query: str) -> object:
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        return conn.execute(query).fetchone()[0]


def _refused(url: str, statement: str) -> str:
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn, \
            pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    return str(caught.value)


def test_the_app_role_reads_and_writes_rows_but_cannot_change_the_schema(
        dataservices: DataServices, migrated: object) -> None:
    url = dataservices.database_url
    assert _one(url, "SELECT count(*) >= 0 FROM core_outboxmessage") is True
    assert "permission denied" in _refused(url, "CREATE TABLE intruder (id int)")
    assert "must be owner" in _refused(url, "DROP TABLE core_outboxmessage")
    assert "must be owner" in _refused(url, "ALTER TABLE auth_user ADD COLUMN x int")
    assert "permission denied" in _refused(url, "TRUNCATE auth_user")  # no TRUNCATE grant


def test_the_migrations_role_owns_every_table_and_has_no_statement_timeout(
        dataservices: DataServices, migrated: object) -> None:
    owners = _one(dataservices.direct_primary_url, "SELECT array_agg(DISTINCT tableowner) "
                  "FROM pg_tables WHERE schemaname = 'public'")
    assert owners == ["app_migrate"]
    assert _one(dataservices.migrate_url, "SHOW statement_timeout") == "0"
    assert _one(dataservices.migrate_url, "SHOW lock_timeout") == MIGRATE_LOCK_TIMEOUT


def test_the_migrations_role_carries_the_lock_timeout_the_migration_lint_assumes(
        dataservices: DataServices, migrated: object) -> None:
    # The setting lives on the role (ALTER ROLE ... SET), so every session of it has it, not
    # only those that remember to SET it; squawk judges each migration with the same value.
    settings = _one(dataservices.direct_primary_url,
                    "SELECT setconfig FROM pg_db_role_setting "
                    "WHERE setrole = 'app_migrate'::regrole AND setdatabase = 0")
    assert f"lock_timeout={MIGRATE_LOCK_TIMEOUT}" in settings


def test_replica_readers_only_read(dataservices: DataServices, migrated: object) -> None:
    url = dataservices.replica_url
    assert _one(url, "SELECT current_user") == "app_readonly"
    assert _one(url, "SELECT count(*) >= 0 FROM auth_user") is True
    # Refused by the role's privileges (also on the primary), not only by the standby.
    primary_as_reader = dataservices.direct_primary_url.replace(
        "app:app-local-password", "app_readonly:app-readonly-local-password")
    update = "UPDATE auth_user SET username = username"
    assert "read-only transaction" in _refused(primary_as_reader, update)  # the role's default
    assert _one(primary_as_reader, "SHOW default_transaction_read_only") == "on"
    # A session may lift its own default; the missing grant still refuses the write.
    with psycopg.connect(primary_as_reader, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(update)


def test_each_process_type_gets_its_own_statement_timeout(
        dataservices: DataServices, migrated: object, app_env: dict[str, str]) -> None:
    web = _one(dataservices.database_url, "SHOW statement_timeout")
    assert web == f"{int(app_env['STATEMENT_TIMEOUT_MS'])}ms"  # the role's, set by the bootstrap
    for queue, seconds in WORKER_STATEMENT_TIMEOUT_SECONDS.items():
        shown = _one(dataservices.worker_database_url(queue), "SHOW statement_timeout")
        assert shown in (f"{seconds}s", f"{seconds // 60}min"), (queue, shown)
    # The low queue's tasks run up to 300 s: a statement longer than the web's limit survives.
    low = dataservices.worker_database_url("low")
    assert _one(low, "SELECT 1 FROM pg_sleep(2)") == 1  # pg_sleep returns void
    assert "statement timeout" in _refused(dataservices.database_url, "SELECT pg_sleep(2)")


def test_the_bootstrap_gives_up_on_a_locked_table_instead_of_queueing_the_app(
        app_env: dict[str, str], dataservices: DataServices, migrated: object) -> None:
    master = dataservices.master_url
    with psycopg.connect(master, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS bootstrap_probe")
        setup.execute("CREATE TABLE bootstrap_probe (id int)")  # owned by master: to hand over
    try:
        with psycopg.connect(master) as holder:  # a long transaction on that table
            holder.execute("LOCK TABLE bootstrap_probe IN ACCESS SHARE MODE")
            ran = run_entrypoint(["bootstrap"], admin_env(app_env, dataservices), timeout=120)
            holder.rollback()
        assert ran.returncode != 0
        assert "gave up after waiting" in ran.stderr, ran.stderr
        assert "Traceback" not in ran.stderr, ran.stderr
    finally:
        with psycopg.connect(master, autocommit=True) as cleanup:
            cleanup.execute("DROP TABLE IF EXISTS bootstrap_probe")
