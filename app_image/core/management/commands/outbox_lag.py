"""`manage.py outbox_lag`: the relay's lag as one JSON line (for `make bench` and operators)."""

import json
from typing import Any

from django.core.management.base import BaseCommand

from core.outbox import outbox_lag_seconds, outbox_unsent_count


class Command(BaseCommand):
    """Print the oldest unsent message's age and the number unsent."""

    help = "Print {\"lag_seconds\": ..., \"unsent\": ...} for the outbox."

    def handle(self, *args: Any, **options: Any) -> None:
        """Query the primary and print."""
        self.stdout.write(json.dumps({"lag_seconds": round(outbox_lag_seconds(), 3),
                                      "unsent": outbox_unsent_count()}))
