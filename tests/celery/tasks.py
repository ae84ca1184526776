"""Tasks that exist only in the fault tests (imported by tests.celery.settings).

    long_low(tag, seconds)  a low-queue task that runs `seconds` (longer than the priority
                            queue's visibility timeout), recording each start and its end
"""

from __future__ import annotations

import os
import time

import redis
from config.celery_app import QuintetTask, app
from django.conf import settings

RUNS_KEY = "fake:runs:"
DONE_KEY = "fake:done:"


@app.task(base=QuintetTask, bind=True, name="tests.celery.tasks.long_low",
          soft_time_limit=20, time_limit=22)
def long_low(self: QuintetTask, tag: str, seconds: float) -> None:
    """Sleep `seconds`; every start and the end are recorded in the broker Redis."""
    client = redis.Redis.from_url(settings.BROKER_URL)
    client.rpush(RUNS_KEY + tag, f"{os.getpid()} {time.time():.3f}")
    time.sleep(seconds)
    client.rpush(DONE_KEY + tag, f"{os.getpid()} {time.time():.3f}")
