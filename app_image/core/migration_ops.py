"""Migration operations that are safe to run while the previous release serves traffic."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently


class AddIndexConcurrentlySafely(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY that a rerun can finish (use it in an ``atomic = False``
    migration of its own).

    A concurrent build that fails part way (a lock or deadline, a crash) leaves an INVALID
    index behind, and Django's plain form then fails on rerun ("already exists"). This drops a
    leftover of the same name first (concurrently, so writes go on) and creates it if absent,
    so rerunning the migration repairs it; both statements hold no lock that blocks writes.
    """

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any,
                          to_state: Any) -> None:
        """Drop a leftover invalid index of this name, then build it concurrently."""
        self._ensure_not_in_transaction(schema_editor)
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        name = schema_editor.quote_name(self.index.name)
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        create = str(self.index.create_sql(model, schema_editor, concurrently=True))
        schema_editor.execute(create.replace("CREATE INDEX CONCURRENTLY",
                                             "CREATE INDEX CONCURRENTLY IF NOT EXISTS", 1))
