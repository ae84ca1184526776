"""`manage.py db_bootstrap`: create the database roles as master (process type `bootstrap`)."""

from typing import Any
from urllib.parse import urlsplit

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.db_roles import (
    BOOTSTRAP_LOCK_TIMEOUT,
    ERROR_NO_MASTER,
    ERROR_NO_MIGRATE,
    Role,
    RolePlan,
    db_roles_bootstrap,
    role_from_url,
)


def _readonly(replica_urls: list[str], app_url: str) -> Role | None:
    """The replicas' role, unless they log in as the app role (never make that one read-only)."""
    if not replica_urls:
        return None
    role = role_from_url(replica_urls[0])
    return None if role.name == role_from_url(app_url).name else role


class Command(BaseCommand):
    """Create or update the migrations, app and read-only roles (idempotent)."""

    help = "Create the database roles named by DATABASE_MIGRATE_URL, DATABASE_URL and " \
           "DATABASE_REPLICA_URLS, logging in with DATABASE_MASTER_URL."

    def handle(self, *args: Any, **options: Any) -> None:
        """Build the plan from the environment contract and apply it."""
        env = settings.ENV
        if not env["DATABASE_MASTER_URL"]:
            raise CommandError(ERROR_NO_MASTER)
        if not env["DATABASE_MIGRATE_URL"]:
            raise CommandError(ERROR_NO_MIGRATE)
        replicas = env["DATABASE_REPLICA_URLS"]
        plan = RolePlan(
            database=urlsplit(env["DATABASE_MASTER_URL"]).path.lstrip("/"),
            migrate=role_from_url(env["DATABASE_MIGRATE_URL"]),
            app=role_from_url(env["DATABASE_URL"]),
            readonly=_readonly(replicas, env["DATABASE_URL"]),
            app_statement_timeout_ms=settings.STATEMENT_TIMEOUT_MS,
        )
        try:
            db_roles_bootstrap(master_url=env["DATABASE_MASTER_URL"], plan=plan)
        except psycopg.errors.LockNotAvailable as error:
            raise CommandError(
                f"a table is held by a long transaction: the bootstrap gave up after waiting "
                f"{BOOTSTRAP_LOCK_TIMEOUT} for its lock rather than queue the app's queries "
                f"behind it; run it again (the Job retries)") from error
        self.stdout.write(f"roles ready: {plan.migrate.name} (owner), {plan.app.name} (app)"
                          + (f", {plan.readonly.name} (read-only)" if plan.readonly else ""))
