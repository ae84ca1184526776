"""`manage.py outbox_relay`: the relay process (process type `relay`)."""

from typing import Any

from django.core.management.base import BaseCommand

from core.relay import relay_run


class Command(BaseCommand):
    """Publish the outbox to the broker until stopped."""

    help = "Publish unsent outbox rows to Celery (at least once) until SIGTERM."

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the relay loop."""
        relay_run()
