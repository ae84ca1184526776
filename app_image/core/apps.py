"""The platform app: database routing, caching, idempotency, fan-out, the task outbox."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    """The platform helpers, the idempotency records and the outbox table (core.models).

    Each role's statement_timeout is set by the bootstrap (core/db_roles.py), not after migrate:
    migrations log in as the migrations role, which must have none.
    """

    name = "core"

    def ready(self) -> None:
        """Connect the query metrics to every new database connection."""
        from core.db_metrics import query_metrics_install

        connection_created.connect(query_metrics_install, dispatch_uid="core.query_metrics")
