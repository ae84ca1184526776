"""Least privilege in the database: the three roles, created by the master user only.

    migrations role  (DATABASE_MIGRATE_URL)   owns the database and schema `public`; the only
                     role that may change the schema; no statement_timeout, a lock_timeout
    app role         (DATABASE_URL)           reads and writes rows, nothing else; the web's
                     statement_timeout (worker pools raise it per queue in their PgBouncer)
    read-only role   (DATABASE_REPLICA_URLS)  SELECT only, read-only transactions

Each role's name and password are taken from the URL the processes use, so the bootstrap and
the processes cannot disagree. `entrypoint.sh bootstrap` runs this with DATABASE_MASTER_URL,
the only place the master password is used; it is idempotent (re-run it to rotate passwords).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

MIGRATE_LOCK_TIMEOUT = "10s"
"""A migration waits this long for a lock, then fails (rather than queueing every query behind
its ACCESS EXCLUSIVE request); migrations have no statement_timeout."""
BOOTSTRAP_LOCK_TIMEOUT = "5s"
"""How long the bootstrap's ownership changes wait for a table lock before giving up."""
ERROR_NO_MASTER = ("DATABASE_MASTER_URL is empty: the bootstrap needs the master user's URL "
                   "(postgres://master:password@primary:5432/<db>)")
ERROR_NO_MIGRATE = ("DATABASE_MIGRATE_URL is empty: the bootstrap needs the migrations role's "
                    "URL (its user and password name the role to create)")


@dataclass(frozen=True)
class Role:
    """A login role: its name and password, from one of the processes' URLs."""

    name: str
    password: str


def role_from_url(url: str) -> Role:
    """The user and password of a postgres URL."""
    parts = urlsplit(url)
    return Role(unquote(parts.username or ""), unquote(parts.password or ""))


@dataclass(frozen=True)
class RolePlan:
    """What the bootstrap creates."""

    database: str
    migrate: Role
    app: Role
    readonly: Role | None
    app_statement_timeout_ms: int


def _upsert_role(cur: psycopg.Cursor, role: Role) -> None:
    exists = cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role.name,)).fetchone()
    verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
    cur.execute(sql.SQL("{} {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                        "PASSWORD {}").format(verb, sql.Identifier(role.name),
                                              sql.Literal(role.password)))


def _owner_to_migrations(cur: psycopg.Cursor, migrate: sql.Identifier, name: str) -> None:
    """Hand every table, view and free sequence of `public` to the migrations role (tables
    created earlier by the master or an older app role)."""
    rows = cur.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"
        " AND pg_get_userbyid(c.relowner) <> %s"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid"
        "                 AND d.deptype IN ('a', 'i') AND c.relkind = 'S')"
        " ORDER BY c.relkind = 'S'", (name,)).fetchall()
    for relname, kind in rows:
        what = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}.get(kind, "TABLE")
        cur.execute(sql.SQL("ALTER {} public.{} OWNER TO {}").format(
            sql.SQL(what), sql.Identifier(relname), migrate))


def db_roles_bootstrap(*, master_url: str, plan: RolePlan) -> None:
    """Create or update the roles and their grants (idempotent), as the master user."""
    migrate, app = sql.Identifier(plan.migrate.name), sql.Identifier(plan.app.name)
    database = sql.Identifier(plan.database)
    readers = [app] + ([sql.Identifier(plan.readonly.name)] if plan.readonly else [])
    with psycopg.connect(master_url, autocommit=True) as conn, conn.cursor() as cur:
        # ALTER ... OWNER takes an exclusive lock: behind a long transaction it would queue
        # every query of the app behind it. Give up instead; the Job's retries try again.
        cur.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(BOOTSTRAP_LOCK_TIMEOUT)))
        for role in (plan.migrate, plan.app, *([plan.readonly] if plan.readonly else [])):
            _upsert_role(cur, role)
        # On RDS the master is no superuser: it must be a member of a role to give it objects.
        cur.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(migrate))
        cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, migrate))
        cur.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(migrate))
        _owner_to_migrations(cur, migrate, plan.migrate.name)
        cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
        cur.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        for reader in readers:
            cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, reader))
            cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(reader))
        # The app: rows, not structure. Existing tables now, future ones by default.
        dml = sql.SQL("SELECT, INSERT, UPDATE, DELETE")
        cur.execute(sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA public TO {}").format(dml, app))
        cur.execute(sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}")
                    .format(app))
        defaults = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT ")
        cur.execute(defaults.format(migrate) + sql.SQL("{} ON TABLES TO {}").format(dml, app))
        cur.execute(defaults.format(migrate)
                    + sql.SQL("USAGE, SELECT, UPDATE ON SEQUENCES TO {}").format(app))
        timeout = sql.Literal(f"{int(plan.app_statement_timeout_ms)}ms")
        cur.execute(sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(app, timeout))
        cur.execute(sql.SQL("ALTER ROLE {} SET statement_timeout = 0").format(migrate))
        cur.execute(sql.SQL("ALTER ROLE {} SET lock_timeout = {}").format(
            migrate, sql.Literal(MIGRATE_LOCK_TIMEOUT)))
        if plan.readonly:
            reader = sql.Identifier(plan.readonly.name)
            cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}")
                        .format(reader))
            cur.execute(defaults.format(migrate) + sql.SQL("SELECT ON TABLES TO {}").format(reader))
            cur.execute(sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(reader,
                                                                                  timeout))
            cur.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on")
                        .format(reader))
