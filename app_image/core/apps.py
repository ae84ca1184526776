"""The platform app: database routing, caching, idempotency, fan-out; owns no business data."""

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


def role_timeout_sync(*, using: str, **_: Any) -> None:
    """Re-apply STATEMENT_TIMEOUT_MS after every migrate, so a changed value takes effect."""
    connection = connections[using]
    if using != "default" or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER ROLE CURRENT_USER SET statement_timeout = {int(settings.STATEMENT_TIMEOUT_MS)}"
        )


class CoreConfig(AppConfig):
    """Registers the platform helpers and keeps the role's statement timeout in sync."""

    name = "core"

    def ready(self) -> None:
        """Connect the post-migrate hook (this app's signal only) and the query metrics."""
        from core.db_metrics import query_metrics_install

        post_migrate.connect(role_timeout_sync, sender=self, dispatch_uid="core.role_timeout")
        connection_created.connect(query_metrics_install, dispatch_uid="core.query_metrics")
