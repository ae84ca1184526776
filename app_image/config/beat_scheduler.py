"""Beat's scheduler: django-celery-beat's database scheduler that also keeps a heartbeat.

Beat ticks at least every few seconds (django-celery-beat caps the sleep at 5 s). Each tick
touches the same heartbeat file a worker keeps, so the one probe command serves both:
``python -m config.worker_health --max-age 60`` fails when beat's loop is stuck.
"""

from __future__ import annotations

from typing import Any

from django_celery_beat.schedulers import DatabaseScheduler

from config.metrics import BEAT_LAST_TICK
from config.worker_health import heartbeat_path


class HeartbeatDatabaseScheduler(DatabaseScheduler):
    """The database scheduler, touching the heartbeat file (and the metric) on every tick."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Beats, then runs the due entries and returns how long to sleep."""
        heartbeat_path().touch()
        BEAT_LAST_TICK.set_to_current_time()  # the "beat heartbeat missing" alert reads it
        return super().tick(*args, **kwargs)
