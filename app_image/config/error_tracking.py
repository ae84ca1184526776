"""Error tracking: Sentry with the Django, Celery and Redis integrations, only when a DSN is set.

No personal data by default (`send_default_pii=False`: no cookies, user ids or client IPs), and no
tracing (Prometheus measures latency). An empty SENTRY_DSN leaves the SDK uninitialised.
"""

from __future__ import annotations

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.redis import RedisIntegration


def error_tracking_init(*, dsn: str, environment: str | None = None) -> bool:
    """Start Sentry when `dsn` is set; return whether it was started."""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration(), RedisIntegration()],
        send_default_pii=False,
        traces_sample_rate=0.0,
    )
    return True
