"""Migration operations that are safe to run while the previous release serves traffic."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently


class AddIndexConcurrentlySafely(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY that a rerun can finish (use it in an ``atomic = False``
    migration of its own).

    A concurrent build that fails part way (a lock or deadline, a crash) leaves an INVALID
    index behind, and Django's plain form then fails on rerun ("already exists"). This drops
    such an INVALID leftover of the same name first (concurrently, so writes go on; a valid
    index is kept) and creates the index if absent, so rerunning the migration repairs it.
    """

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any,
                          to_state: Any) -> None:
        """Drop a leftover invalid index of this name, then build it concurrently."""
        self._ensure_not_in_transaction(schema_editor)
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        name = schema_editor.quote_name(self.index.name)
        if schema_editor.collect_sql or self._leftover_invalid(schema_editor):
            # sqlmigrate shows the repair step; a real run drops only an INVALID leftover.
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        create = str(self.index.create_sql(model, schema_editor, concurrently=True))
        schema_editor.execute(re.sub(r"^CREATE (UNIQUE )?INDEX CONCURRENTLY ",
                                     r"CREATE \1INDEX CONCURRENTLY IF NOT EXISTS ", create))

    def _leftover_invalid(self, schema_editor: Any) -> bool:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT NOT indisvalid FROM pg_index i JOIN pg_class c "
                           "ON c.oid = i.indexrelid WHERE c.relname = %s", [self.index.name])
            row = cursor.fetchone()
        return bool(row and row[0])
