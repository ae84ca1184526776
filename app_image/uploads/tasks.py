"""Upload tasks: the beat-scheduled sweep of uploads never confirmed."""

from __future__ import annotations

from django.conf import settings

from config.celery_app import app
from uploads import services

SOFT_LIMIT, HARD_LIMIT = settings.CELERY_TIME_LIMITS["low"]


@app.task(name="uploads.tasks.upload_cleanup", ignore_result=True,
          soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT)
def upload_cleanup() -> int:
    """Remove unconfirmed (past their window) and refused uploads from the bucket."""
    return services.upload_cleanup()
