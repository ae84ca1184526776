"""WSGI entry point of the peer (gunicorn), with `cache.get_or_set` in place of single flight."""

import os
from collections.abc import Callable
from typing import TypeVar

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_settings")
application = get_wsgi_application()

from content import selectors  # noqa: E402  (the app registry is ready only now)
from django.core.cache import cache  # noqa: E402
from django_redis import get_redis_connection  # noqa: E402

T = TypeVar("T")


def get_or_set_read_through(*, key: str, build: Callable[[], T], **_: object) -> T:
    """Django's get_or_set, counting rebuilds with quintet's counter so the bench compares."""

    def counted() -> T:
        get_redis_connection("default").incr(f"q:rebuilds:{key}")
        return build()

    return cache.get_or_set(key, counted)  # type: ignore[no-any-return]


selectors.cache_read_through = get_or_set_read_through  # type: ignore[assignment]
