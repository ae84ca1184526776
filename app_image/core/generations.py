"""Cache generations: one version counter per family of keys, bumped when a write commits.

A read-through entry records the generation its build started under; it is fresh only while
that is still the family's current generation. A build that raced a write therefore carries the
old generation and is never served as fresh, whatever order the store and the bump land in.

A counter that expired (or was evicted) starts again from the current time in microseconds, so
a new epoch never reuses a generation an older entry could still carry.
"""

from __future__ import annotations

import time

from django.conf import settings
from django_redis import get_redis_connection

GENERATION_PREFIX = "q:gen:"
GENERATION_TTL_SECONDS = 7 * 24 * 3600
"""Counters expire too (every app key does); an expired one just starts a new epoch."""

# INCR, but a missing counter starts a fresh epoch instead of counting from 1.
_BUMP = """
local v = redis.call('INCR', KEYS[1])
if v == 1 then
  v = tonumber(ARGV[1])
  redis.call('SET', KEYS[1], v)
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return v
"""


def _counter(family: str) -> str:
    return f"{GENERATION_PREFIX}{settings.CACHES['default']['VERSION']}:{family}"


def _epoch() -> int:
    return time.time_ns() // 1000


def generation_current(*, family: str) -> int:
    """The family's current generation (starting an epoch when it has none)."""
    client = get_redis_connection("default")
    raw = client.get(_counter(family))
    if raw is None:
        client.set(_counter(family), _epoch(), nx=True, ex=GENERATION_TTL_SECONDS)
        raw = client.get(_counter(family))
    return int(raw or 0)


def generation_bump(*, family: str) -> int:
    """Start the family's next generation: every entry built before now stops being fresh."""
    client = get_redis_connection("default")
    return int(client.eval(_BUMP, 1, _counter(family), _epoch(), GENERATION_TTL_SECONDS))
