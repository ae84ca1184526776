"""``manage.py migration_check [--sql-dir DIR]``: the pre-deploy check of the app's migrations.

Prints every backward-incompatible operation (core/migration_safety.py) and exits 1 if any.
With ``--sql-dir`` it also writes the SQL of each of the project's migrations there (what
``sqlmigrate`` prints, which needs a database connection), for squawk to lint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.migrations.loader import MigrationLoader

from core.migration_safety import compatibility_findings, project_migrations


class Command(BaseCommand):
    """Backward-compatibility findings, and optionally each migration's SQL for squawk."""

    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        """--sql-dir: where to write one .sql file per migration."""
        parser.add_argument("--sql-dir", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        """Write the SQL (when asked), then report the findings."""
        base_dir = Path(settings.BASE_DIR)
        if options["sql_dir"]:
            out: Path = options["sql_dir"]
            out.mkdir(parents=True, exist_ok=True)
            loader = MigrationLoader(None, ignore_no_migrations=True)
            for app_label, name in project_migrations(loader, base_dir):
                path = out / f"{app_label}__{name}.sql"
                with path.open("w") as sql:
                    if getattr(loader.disk_migrations[app_label, name], "contract_step", False):
                        # The previous deploy stopped using what this drops (expand/contract).
                        sql.write("-- squawk-ignore-file ban-drop-column, ban-drop-constraint\n")
                    call_command("sqlmigrate", app_label, name, stdout=sql, no_color=True)
        findings = compatibility_findings(base_dir)
        for finding in findings:
            self.stderr.write(f"migration check: {finding}")
        if findings:
            raise CommandError(f"{len(findings)} backward-incompatible migration operations "
                               "(docs/runbook.md: expand and contract)")
