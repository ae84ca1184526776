"""The peer: the same app under cookiecutter-django's production defaults (`make bench` only).

Never shipped in the image. It names each setting it changes from quintet's production:
one database connection per worker to the primary, kept 60 s (CONN_MAX_AGE=60), no PgBouncer,
no replicas, every request inside a transaction (ATOMIC_REQUESTS=True), and a cache that
swallows Redis errors (IGNORE_EXCEPTIONS=True). `peer_wsgi` swaps the single-flight feed cache
for `cache.get_or_set`. The bench serves it with gunicorn sync workers.
"""

from config.settings.production import *  # noqa: F403
from config.settings.production import CACHES, DATABASES

DATABASES["default"] |= {
    "CONN_MAX_AGE": 60,
    "ATOMIC_REQUESTS": True,
    "DISABLE_SERVER_SIDE_CURSORS": False,
    "CONN_HEALTH_CHECKS": False,
    "OPTIONS": {"connect_timeout": 2},
}
DATABASES = {"default": DATABASES["default"]}
REPLICA_DATABASES: list[str] = []
CACHES["default"]["OPTIONS"] = {**CACHES["default"]["OPTIONS"], "IGNORE_EXCEPTIONS": True}
