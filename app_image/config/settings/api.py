"""Settings of the write APIs (issue 13), imported at the end of base.py.

Who may write: Django REST framework authenticates every write API with a knox token
(`Authorization: Token <token>`, API clients) or the session cookie (browsers, with CSRF), and
each view names the permission it needs (editors publish, customers order). Reads stay
anonymous. Idempotency records live in Postgres; webhook deliveries are signed (Standard
Webhooks) and only reach public HTTPS addresses.
"""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab

from config.env import environment_load
from config.settings.celery import CELERY_BEAT_SCHEDULE, CELERY_TASK_ROUTES

_ENV = environment_load()

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.auth.PrimaryTokenAuthentication",
        "core.auth.PrimarySessionAuthentication",
    ],
    # Nothing is open by default: a view that forgets its permission refuses everyone.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.api.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
REST_KNOX = {
    # Tokens are stored as SHA-512 digests (a leaked table is no list of credentials) and
    # expire; a client asks for a new one with its password.
    "TOKEN_TTL": timedelta(days=30),
    "AUTO_REFRESH": False,  # no write on every authenticated request
    "TOKEN_LIMIT_PER_USER": 20,
}
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

IDEMPOTENCY_RETENTION = timedelta(hours=24)
"""How long a key's record (and so its stored response) is kept; beat deletes older ones."""
IDEMPOTENCY_LOCK_SECONDS = 30
"""TTL of the Redis lock in front of the records (only a fast path for concurrent duplicates)."""
IDEMPOTENCY_WAIT_MS = 3000
"""How long a duplicate that missed the lock waits on the record's row lock before a 409."""

WEBHOOKS_ALLOW_LOOPBACK: bool = _ENV["WEBHOOKS_ALLOW_LOOPBACK"]
"""Local mode: plain-HTTP loopback endpoints are allowed (nothing else non-public ever is)."""
WEBHOOKS_MAX_REDIRECTS = 3
"""Redirects a delivery follows, each target checked like the endpoint itself."""

# The purge runs on the low queue, hourly (records are small; an hour past 24 h is harmless).
CELERY_TASK_ROUTES = {
    **CELERY_TASK_ROUTES,
    "core.tasks.idempotency_records_purge": {"queue": "low", "routing_key": "low"},
}
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "hourly-idempotency-purge": {
        "task": "core.tasks.idempotency_records_purge",
        "schedule": crontab(minute="5"),
    },
}
