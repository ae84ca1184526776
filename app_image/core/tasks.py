"""The platform's periodic tasks (beat)."""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError

from config.celery_app import QuintetTask, app
from core.idempotency import idempotency_records_purge

_SOFT, _HARD = settings.CELERY_TIME_LIMITS["low"]


@app.task(base=QuintetTask, bind=True, name="core.tasks.idempotency_records_purge",
          autoretry_for=(DatabaseError, OSError), max_retries=3, soft_time_limit=_SOFT,
          time_limit=_HARD)
def idempotency_records_purge_task(self: QuintetTask) -> int:
    """Hourly: delete idempotency records older than IDEMPOTENCY_RETENTION."""
    return idempotency_records_purge()
