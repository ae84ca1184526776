"""Formerly set the connected role's statement_timeout (ALTER ROLE CURRENT_USER).

Migrations now log in as the migrations role, which must have no statement_timeout, and each
role's timeouts are set by the bootstrap (core/db_roles.py, `entrypoint.sh bootstrap`). The
migration stays, empty, so databases that applied it keep a consistent history.
"""

from django.db import migrations


class Migration(migrations.Migration):
    """No operation (kept for the migration history)."""

    dependencies: list[tuple[str, str]] = []
    operations: list[migrations.operations.base.Operation] = []
