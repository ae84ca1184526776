"""Settings shared by every process type; every value comes from the environment contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.edge import edge_contract_load
from config.env import environment_load
from config.error_tracking import error_tracking_init

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ENV = environment_load()
EDGE = edge_contract_load()


DATABASE_POOL: dict[str, Any] = {
    "min_size": 2,
    # Client connections to PgBouncer are cheap; its own pool (default_pool_size) bounds the
    # Postgres backends. A request waits at most `timeout` s for a free one, then fails fast.
    "max_size": 20,
    "timeout": 2.0,
    "max_idle": 60.0,
}
"""psycopg_pool options of every database alias (one pool per alias and process)."""


def database_from_url(url: str) -> dict[str, Any]:
    """A Django DATABASES entry for a PgBouncer (transaction mode) URL."""
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname,
        "PORT": parts.port or 5432,
        # Under ASGI a persistent connection leaks per thread (Django ticket 33497), so
        # CONN_MAX_AGE stays 0 and connections are reused through the process's pool instead:
        # a new connection to the sidecar costs a SCRAM exchange (~15-30 ms here, measured by
        # `make bench`'s profile), a pooled one nothing. Django returns it at request end.
        "CONN_MAX_AGE": 0,
        # A pooled connection is checked before use, so a restarted sidecar costs one retry.
        "CONN_HEALTH_CHECKS": True,
        # Transaction pooling: no server-side cursors, no prepared statements.
        "DISABLE_SERVER_SIDE_CURSORS": True,
        "ATOMIC_REQUESTS": False,
        "OPTIONS": {"prepare_threshold": None, "connect_timeout": 2, "pool": DATABASE_POOL},
    }


SECRET_KEY: str = ENV["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS: list[str] = ENV["DJANGO_ALLOWED_HOSTS"]
DEBUG = False

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_celery_beat",
    "core",
    "content",
    "accounts",
    "checkout",
    "notifications",
    "uploads",
]

MIDDLEWARE = [
    # First: probes arrive with the pod IP as Host (see health/middleware.py).
    "health.middleware.ProbeMiddleware",
    # Right after the probes: every other request is timed and counted (docs/observability.md).
    "core.request_metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.static.StaticFilesMiddleware",
    "core.middleware.CacheControlMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.ReadYourWritesMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# ---- database tier -------------------------------------------------------------------
DATABASES = {"default": database_from_url(ENV["DATABASE_URL"])}
REPLICA_DATABASES: list[str] = []
for index, replica_url in enumerate(ENV["DATABASE_REPLICA_URLS"]):
    alias = f"replica_{index}"
    DATABASES[alias] = database_from_url(replica_url)
    REPLICA_DATABASES.append(alias)
DATABASE_ROUTERS = ["core.routing.PrimaryReplicaRouter"]
READ_YOUR_WRITES_SECONDS: int = ENV["READ_YOUR_WRITES_SECONDS"]
READ_YOUR_WRITES_COOKIE: str = EDGE["bypass_cookies"]["read_your_writes"]
STATEMENT_TIMEOUT_MS: int = ENV["STATEMENT_TIMEOUT_MS"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---- caching -------------------------------------------------------------------------
# No IGNORE_EXCEPTIONS: the read-through helper degrades explicitly, idempotency fails closed.
# Short socket timeouts and no retries keep a dead Redis to milliseconds.
REDIS_OPTIONS: dict[str, Any] = {
    "SOCKET_CONNECT_TIMEOUT": 0.25,
    "SOCKET_TIMEOUT": 0.25,
    "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 0), "max_connections": 200},
}
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": ENV["CACHE_URL"],
        "KEY_PREFIX": "q",
        "VERSION": ENV["CACHE_KEY_VERSION"],
        "TIMEOUT": ENV["CACHE_TTL_SECONDS"],
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", **REDIS_OPTIONS},
    }
}
CACHE_TTL_SECONDS: int = ENV["CACHE_TTL_SECONDS"]
BROKER_URL: str = ENV["BROKER_URL"]

# Sessions live in signed cookies: nothing on local disk, and no Redis outage logs anyone out.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_NAME: str = EDGE["bypass_cookies"]["session"]
# Requests carrying any of these are personal: no edge cache may serve or store them.
EDGE_BYPASS_COOKIES: tuple[str, ...] = tuple(EDGE["bypass_cookies"].values())
EDGE_CACHEABLE_METHODS: tuple[str, ...] = tuple(EDGE["cacheable_methods"])
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 14 * 24 * 3600

# ---- async I/O ----------------------------------------------------------------------
UPSTREAMS = {
    "sanctions": ENV["UPSTREAM_SANCTIONS_URL"],
    "fraud": ENV["UPSTREAM_FRAUD_URL"],
    "address": ENV["UPSTREAM_ADDRESS_URL"],
}
UPSTREAM_TIMEOUT_SECONDS: float = ENV["UPSTREAM_TIMEOUT_SECONDS"]

# ---- static files: hashed names, served by WhiteNoise with a year-long immutable TTL ----
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_MAX_AGE = 365 * 24 * 3600

# Anonymous HTML may be cached by the edge briefly and served stale while it refreshes.
PUBLIC_HTML_MAX_AGE = 60
PUBLIC_HTML_STALE_WHILE_REVALIDATE = 300

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"

# ---- logs: JSON lines on stdout --------------------------------------------------------
LOG_LEVEL: str = ENV["LOG_LEVEL"]
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.JSONRenderer(),
    ],
    logger_factory=structlog.PrintLoggerFactory(),
    cache_logger_on_first_use=True,
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processor": structlog.processors.JSONRenderer(),
            "foreign_pre_chain": [
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso"),
            ],
        }
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
}

# ---- metrics: this process's Prometheus port (docs/observability.md) ----------------------
METRICS_PORT: int = ENV["METRICS_PORT"]
METRICS_HOST: str = ENV["HOST"]

# ---- error tracking: Sentry only when SENTRY_DSN is set; never personal data ---------------
SENTRY_DSN: str = ENV["SENTRY_DSN"]
error_tracking_init(dsn=SENTRY_DSN)

from config.settings.celery import *  # noqa: E402, F403  (Celery: issue 4)

# isort: split
# The write APIs' settings extend Celery's routes and schedule, so they come after them.
from config.settings.api import *  # noqa: E402, F403  (write APIs: issue 13)

# isort: split
# Uploads extend the storages, Celery's routes and the beat schedule, so they come last.
from config.settings.uploads import *  # noqa: E402, F403  (uploads: issue 20)
