"""A scripted email provider for the fault tests; the recipient's local part picks a behaviour.

    slow-*       sleeps SLOW_SECONDS, then sends (a task to kill mid-flight)
    fail-*       always raises ProviderError (retries until the maximum)
    ratelimit-*  the first call is rate limited (Retry-After RATE_LIMIT_SECONDS), then sends
    stuck-*      ignores the soft time limit and never returns (the hard limit must kill it)
    poison-*     SIGKILLs its own process (a task that OOM-kills its worker child, every time)
    anything else sends at once

Each call is counted in the broker Redis (`fake:calls:<recipient>`, a list of "pid time"), so a
test can see how many attempts ran, where and when.
"""

from __future__ import annotations

import os
import signal
import time

import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from notifications.providers import LocalEmailProvider, ProviderError, ProviderRateLimited

SLOW_SECONDS = 3.0
RATE_LIMIT_SECONDS = 1.0
CALLS_KEY = "fake:calls:"


class ScriptedEmailProvider:
    """Behaves as the recipient says, then delegates to the local provider."""

    def send(self, *, idempotency_key: str, sender: str, recipient: str, subject: str,
             body: str) -> str:
        """Record the call, act out the behaviour, send through LocalEmailProvider."""
        client = redis.Redis.from_url(settings.BROKER_URL)
        calls = client.rpush(CALLS_KEY + recipient, f"{os.getpid()} {time.time():.3f}")
        behaviour = recipient.split("-", 1)[0]
        if behaviour == "slow":
            time.sleep(SLOW_SECONDS)
        elif behaviour == "fail":
            raise ProviderError("provider unavailable (scripted)")
        elif behaviour == "ratelimit" and calls == 1:
            raise ProviderRateLimited(RATE_LIMIT_SECONDS)
        elif behaviour == "poison":
            os.kill(os.getpid(), signal.SIGKILL)
        elif behaviour == "stuck":
            while True:
                try:
                    time.sleep(60)
                except SoftTimeLimitExceeded:
                    continue  # like a blocking C call that never sees the exception
        return LocalEmailProvider().send(idempotency_key=idempotency_key, sender=sender,
                                         recipient=recipient, subject=subject, body=body)
