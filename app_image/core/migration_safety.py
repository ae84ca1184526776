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
from typing import Any

from django.db import connection, migrations, models
from django.db.migrations.loader import MigrationLoader

RENAME = "renames {what} in place: the running version still uses the old name; add the new, " \
    "copy, switch the code, and drop the old in a later deploy"
DROP = "drops {what} that the running version still reads or writes; stop using it in one " \
    "deploy and drop it in the next, in a migration with contract_step = True"
REQUIRED = "adds {what} as NOT NULL without a database default: the running version's INSERTs " \
    "fail; add it nullable or with db_default, backfill, then tighten"
TIGHTEN = "makes {what} NOT NULL: the running version may still write NULL; tighten it in the " \
    "deploy after the code always writes it, in a migration with contract_step = True"
RETYPE = "changes {what} from {old} to {new}: Postgres rewrites the table under an exclusive " \
    "lock and the running version may write values the new type refuses; add a column of the " \
    "new type, backfill, switch the code, then drop the old one"
CONSTRAIN = "adds constraint {what}: the running version may still write rows it refuses; add " \
    "it in the deploy after the code writes only valid rows (contract_step = True), NOT VALID " \
    "first and validated in a second migration"
NO_REVERSE = "runs {what} with no reverse: rolling this deploy back cannot undo it; give the " \
    "reverse ({hint}, or its noop when there is nothing to undo)"


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


def _widening(old: str, new: str) -> bool:
    # The only retypes Postgres does in place: a longer varchar, or a varchar to text.
    if old.startswith("varchar(") and new == "text":
        return True
    if old.startswith("varchar(") and new.startswith("varchar("):
        return int(new[8:-1]) >= int(old[8:-1])
    return False


def _alter_findings(label: str, op: migrations.AlterField, old: models.Field | None,
                    contract: bool) -> list[Finding]:
    if old is None:
        return []
    found = []
    old_type, new_type = old.db_type(connection), op.field.db_type(connection)
    if old_type != new_type and not _widening(str(old_type), str(new_type)):
        found.append(Finding(label, RETYPE.format(what=_field_label(op), old=old_type,
                                                  new=new_type)))
    if old.null and not op.field.null and not contract:
        found.append(Finding(label, TIGHTEN.format(what=_field_label(op))))
    return found


def _applied(operations: list[Any]) -> list[Any]:
    # What runs on the database: SeparateDatabaseAndState's database side, not its state side.
    applied = []
    for op in operations:
        if isinstance(op, migrations.SeparateDatabaseAndState):
            applied += _applied(op.database_operations)
        else:
            applied.append(op)
    return applied


def operation_findings(app_label: str, name: str, migration: migrations.Migration,
                       loader: MigrationLoader) -> list[Finding]:
    """Findings for the operations of one migration."""
    label = f"{app_label}.{name}"
    contract = getattr(migration, "contract_step", False)
    found: list[Finding] = []
    for op in _applied(migration.operations):
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
        elif isinstance(op, migrations.AlterField):
            before = loader.project_state((app_label, name), at_end=False)
            old = before.models[app_label, op.model_name_lower].fields.get(op.name)
            found += _alter_findings(label, op, old, contract)
        elif isinstance(op, migrations.AddConstraint) and not contract:
            what = f"{op.constraint.name} on {op.model_name}"
            found.append(Finding(label, CONSTRAIN.format(what=what)))
        elif isinstance(op, migrations.RunPython) and op.reverse_code is None:
            found.append(Finding(label, NO_REVERSE.format(what="Python code",
                                                          hint="reverse_code")))
        elif isinstance(op, migrations.RunSQL) and op.reverse_sql is None:
            found.append(Finding(label, NO_REVERSE.format(what="SQL", hint="reverse_sql")))
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
