"""Primary/replica routing with read-your-writes and per-replica circuit breakers.

Reads go to a replica unless: no replica is configured, the read is inside `atomic()` on the
primary, the code asked for the primary (`pin_to_primary`), this request already wrote, or the
client wrote within READ_YOUR_WRITES_SECONDS (the middleware turns a signed cookie into a pin).
Those rules come before an instance hint: an object loaded from a replica does not drag a read
that must see the latest writes back onto the replica.

A request keeps one replica for all its reads (monotonic within the request). A replica that
fails to connect is skipped for a back-off (core.replica_health), and the read falls back to
another replica, then the primary. Writes and migrations go to the primary only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections

from core.replica_health import replica_choose

PRIMARY = "default"


@dataclass
class RoutingState:
    """Per-request routing facts; mutable so that copies of the context share it."""

    pinned: bool = False
    wrote: bool = False
    replica: str | None = None
    """The replica this request reads from, chosen at its first replica read."""


_state: ContextVar[RoutingState | None] = ContextVar("quintet_routing_state", default=None)


def routing_state_begin(*, pinned: bool) -> Token[RoutingState | None]:
    """Start a request's routing state; pass the token to `routing_state_end`."""
    return _state.set(RoutingState(pinned=pinned))


def routing_state_end(token: Token[RoutingState | None]) -> None:
    """End the request's routing state."""
    _state.reset(token)


def routing_state() -> RoutingState | None:
    """The current request's routing state, if any."""
    return _state.get()


@contextmanager
def pin_to_primary() -> Iterator[None]:
    """Send every read inside the block to the primary."""
    state = _state.get()
    if state is None:
        token = _state.set(RoutingState(pinned=True))
        try:
            yield
        finally:
            _state.reset(token)
        return
    previous, state.pinned = state.pinned, True
    try:
        yield
    finally:
        state.pinned = previous


class PrimaryReplicaRouter:
    """Django database router implementing the rules in the module docstring."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        """A replica alias, or the primary when the read must see the latest writes."""
        replicas: list[str] = settings.REPLICA_DATABASES
        if not replicas:
            return PRIMARY
        state = _state.get()
        if state is not None and (state.pinned or state.wrote):
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY
        instance = hints.get("instance")
        if instance is not None and getattr(instance._state, "db", None):
            return str(instance._state.db)
        if state is None:  # outside a request (tasks, shell): the unit of work is the query
            return replica_choose(replicas, preferred=None)
        state.replica = replica_choose(replicas, preferred=state.replica)
        return state.replica

    def db_for_write(self, model: type, **hints: Any) -> str:
        """Always the primary; remember the write so later reads stay there."""
        state = _state.get()
        if state is not None:
            state.wrote = True
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        """Replicas hold the same data as the primary."""
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None,
                      **hints: Any) -> bool:
        """Migrations run on the primary only, never on a replica."""
        return db == PRIMARY
