"""Settings of the Celery fault tests: the test settings with every time scaled down.

The invariants of production hold here too (each queue's visibility timeout > its longest hard
limit + its countdown cap; `celery_app` refuses to start otherwise), only with seconds instead
of minutes, so a redelivery after a crash takes seconds. The low queue's timeout stays well
above the priority queue's, as in production, so a test can show that a long low task is not
redelivered by the priority workers' sweep. The email provider is a scripted fake.
"""

from config.settings.celery import celery_transport_options
from config.settings.test import *  # noqa: F403

CELERY_TIME_LIMITS = {"priority": (6, 8), "default": (2, 4), "low": (20, 22)}
CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT = CELERY_TIME_LIMITS["default"]
CELERY_RETRY_BACKOFF_MAX = {"priority": 2, "default": 2, "low": 2}
CELERY_VISIBILITY_TIMEOUTS = {"priority": 12, "default": 10, "low": 30}
CELERY_BROKER_TRANSPORT_OPTIONS = celery_transport_options(
    visibility_timeout=CELERY_VISIBILITY_TIMEOUTS["default"], family="default")
CELERY_MAX_DELIVERIES = 3
CELERY_HEARTBEAT_SECONDS = 1
CELERY_IMPORTS = ("tests.celery.tasks",)
CELERY_TASK_ROUTES = {
    **CELERY_TASK_ROUTES,  # noqa: F405
    "tests.celery.tasks.long_low": {"queue": "low", "routing_key": "low"},
}
OUTBOX_POLL_SECONDS = 0.05
NOTIFICATIONS_EMAIL_PROVIDER = "tests.celery.fakes.ScriptedEmailProvider"
NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS = 30.0
