"""Settings of the Celery fault tests: the test settings with every time scaled down.

The invariant of production holds here too (visibility timeout > longest hard limit + longest
countdown; `celery_app` refuses to start otherwise), only with seconds instead of minutes, so a
redelivery after a crash takes seconds. The email provider is a scripted fake.
"""

from config.settings.celery import celery_transport_options
from config.settings.test import *  # noqa: F403

CELERY_TIME_LIMITS = {"priority": (6, 8), "default": (2, 4), "low": (5, 7)}
CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT = CELERY_TIME_LIMITS["default"]
CELERY_RETRY_BACKOFF_MAX = 2
CELERY_VISIBILITY_TIMEOUT = 12
CELERY_BROKER_TRANSPORT_OPTIONS = celery_transport_options(
    visibility_timeout=CELERY_VISIBILITY_TIMEOUT)
CELERY_HEARTBEAT_SECONDS = 1
NOTIFICATIONS_EMAIL_PROVIDER = "tests.celery.fakes.ScriptedEmailProvider"
NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS = 30.0
