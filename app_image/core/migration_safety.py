"""Which migration operations break the version still running while they apply.

A deploy applies migrations before the new pods roll, so for minutes the previous release serves
traffic against the new schema. An operation is backward incompatible when the previous release
still uses what it removes or renames, or cannot write a row it now requires. Such a change ships
in two deploys (expand, then contract: docs/runbook.md). A migration that is the contract step,
shipped after the code stopped using the column, says so with ``contract_step = True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader

RENAME = "renames {what} in place: the running version still uses the old name; add the new, " \
    "copy, switch the code, and drop the old in a later deploy"
DROP = "drops {what} that the running version still reads or writes; stop using it in one " \
    "deploy and drop it in the next, in a migration with contract_step = True"
REQUIRED = "adds {what} as NOT NULL without a database default: the running version's INSERTs " \
    "fail; add it nullable or with db_default, backfill, then tighten"
TIGHTEN = "makes {what} NOT NULL: the running version may still write NULL; tighten it in the " \
    "deploy after the code always writes it"


@dataclass(frozen=True)
class Finding:
    """One operation that would break the running version."""

    migration: str
    message: str

    def __str__(self) -> str:
        return f"{self.migration}: {self.message}"


def _field_label(op: migrations.operations.base.Operation) -> str:
    return f"column {op.model_name}.{op.name}"


def _required(field: models.Field) -> bool:
    return not field.null and not field.has_db_default() and not (
        field.many_to_many or isinstance(field, models.AutoField))


def operation_findings(app_label: str, name: str, migration: migrations.Migration,
                       loader: MigrationLoader) -> list[Finding]:
    """Findings for the operations of one migration."""
    label = f"{app_label}.{name}"
    contract = getattr(migration, "contract_step", False)
    found: list[Finding] = []
    for op in migration.operations:
        if isinstance(op, migrations.RenameField):
            what = f"column {op.model_name}.{op.old_name} -> {op.new_name}"
            found.append(Finding(label, RENAME.format(what=what)))
        elif isinstance(op, migrations.RenameModel):
            found.append(Finding(label, RENAME.format(what=f"table {op.old_name}")))
        elif isinstance(op, migrations.RemoveField) and not contract:
            found.append(Finding(label, DROP.format(what=_field_label(op))))
        elif isinstance(op, migrations.DeleteModel) and not contract:
            found.append(Finding(label, DROP.format(what=f"table {op.name}")))
        elif isinstance(op, migrations.AddField) and _required(op.field):
            found.append(Finding(label, REQUIRED.format(what=_field_label(op))))
        elif isinstance(op, migrations.AlterField) and not op.field.null:
            before = loader.project_state((app_label, name), at_end=False)
            old = before.models[app_label, op.model_name_lower].fields.get(op.name)
            if old is not None and old.null:
                found.append(Finding(label, TIGHTEN.format(what=_field_label(op))))
    return found


def project_migrations(loader: MigrationLoader, base_dir: Path) -> list[tuple[str, str]]:
    """(app label, migration name) of the project's own apps, in name order."""
    ours = []
    for (app_label, name), migration in loader.disk_migrations.items():
        module = __import__(migration.__module__, fromlist=["__file__"])
        if Path(module.__file__).resolve().is_relative_to(base_dir.resolve()):
            ours.append((app_label, name))
    return sorted(ours)


def compatibility_findings(base_dir: Path) -> list[Finding]:
    """Every backward-incompatible operation in the project's migrations (no database needed)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    found: list[Finding] = []
    for app_label, name in project_migrations(loader, base_dir):
        found += operation_findings(app_label, name, loader.disk_migrations[app_label, name],
                                    loader)
    return found
