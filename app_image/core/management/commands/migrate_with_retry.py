"""``manage.py migrate_with_retry``: apply migrations, retrying when a lock is not granted in time.

The migrations role runs with a ``lock_timeout`` (and no statement timeout), so a migration that
waits behind a long transaction on a hot table gives up quickly instead of queueing every
request behind its own lock request. Each migration is atomic, so a timed-out one rolled back
whole; this command waits with a growing, jittered back-off and applies the rest again.
"""

from __future__ import annotations

import random
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import OperationalError

LOCK_NOT_AVAILABLE = "55P03"
"""PostgreSQL's SQLSTATE for ``lock_timeout`` expiring (lock_not_available)."""


def lock_timed_out(error: BaseException) -> bool:
    """True when ``error`` is PostgreSQL giving up on a lock (not any other failure)."""
    cause = error.__cause__ or error
    return getattr(getattr(cause, "diag", None), "sqlstate", None) == LOCK_NOT_AVAILABLE or (
        getattr(cause, "sqlstate", None) == LOCK_NOT_AVAILABLE)


class Command(BaseCommand):
    """migrate, retried on lock timeouts with back-off; any other error fails at once."""

    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        """--attempts and --backoff (seconds before the second attempt; doubles each time)."""
        parser.add_argument("--attempts", type=int, default=6)
        parser.add_argument("--backoff", type=float, default=2.0)

    def handle(self, *args: Any, **options: Any) -> None:
        """Run migrate until it succeeds or the attempts are spent."""
        attempts, backoff = options["attempts"], options["backoff"]
        for attempt in range(1, attempts + 1):
            try:
                call_command("migrate", interactive=False, database="default",
                             verbosity=options["verbosity"])
                return
            except OperationalError as error:
                if not lock_timed_out(error) or attempt == attempts:
                    if lock_timed_out(error):
                        raise CommandError(
                            f"migrate: a lock was not granted in time on {attempts} attempts; "
                            "find the long transaction holding it (pg_stat_activity) and retry"
                        ) from error
                    raise
                delay = backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
                self.stderr.write(f"migrate: lock not granted in time (attempt {attempt} of "
                                  f"{attempts}); retrying in {delay:.1f}s")
                time.sleep(delay)
