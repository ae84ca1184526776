"""Set the app role's statement_timeout once, server side (PgBouncer drops startup options)."""

from django.conf import settings
from django.db import migrations


def role_timeout_set(apps, schema_editor):  # type: ignore[no-untyped-def]
    """ALTER ROLE the connected (app) role; new server sessions pick it up."""
    if schema_editor.connection.vendor != "postgresql":
        return
    timeout_ms = int(settings.STATEMENT_TIMEOUT_MS)
    schema_editor.execute(f"ALTER ROLE CURRENT_USER SET statement_timeout = {timeout_ms}")


def role_timeout_reset(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Undo: back to the server default."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER ROLE CURRENT_USER RESET statement_timeout")


class Migration(migrations.Migration):
    """The statement timeout migration; CoreConfig re-applies it after every migrate."""

    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunPython(role_timeout_set, role_timeout_reset)]
