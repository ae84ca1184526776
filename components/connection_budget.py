"""The Postgres connection budget: how many server connections the platform can open at most.

One function, shared by the data tier (it sets ``max_connections`` from it) and the workloads
(they size PgBouncer and worker concurrency against it), so both sides use the same numbers.

The formula::

    web       = web_max_pods * pgbouncer_pool_size      # each web pod's PgBouncer sidecar opens
                                                         # at most its pool per database
    workers   = sum(max_pods * connections_per_pod)     # per worker group; a prefork child holds
                                                         # at most one connection at a time
    singletons= beat + relay + migrate (one each)
    app       = web + workers + singletons
    max_connections = app + headroom + superuser_reserved

``headroom`` covers operators' sessions, monitoring agents and pods surging during a rollout;
``superuser_reserved`` is Postgres's ``superuser_reserved_connections`` (3 by default), which
ordinary roles can never use, so it is added on top rather than eaten from the app's share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SUPERUSER_RESERVED = 3
SINGLETONS = 3  # Celery beat, the outbox relay and the migrate job: one connection each


@dataclass(frozen=True)
class WorkerGroup:
    """One Celery worker Deployment at its maximum scale."""

    name: str
    """The queue (or queues) the group consumes, for the breakdown."""
    max_pods: int
    """Replicas at the autoscaler's maximum."""
    connections_per_pod: int
    """Server connections one pod holds at most: its concurrency (prefork children)."""


@dataclass(frozen=True)
class ConnectionBudgetInput:
    """What decides the budget: pods at their maximum and what each opens."""

    web_max_pods: int
    """Web pods at the HPA's maximum."""
    pgbouncer_pool_size: int
    """Server connections each web pod's PgBouncer opens per database (``default_pool_size``)."""
    workers: tuple[WorkerGroup, ...] = ()
    """Celery worker groups at their maximum."""
    headroom: int = 20
    """Connections kept free for operators, monitoring and rollout surge."""
    superuser_reserved: int = SUPERUSER_RESERVED
    """Postgres's ``superuser_reserved_connections``."""
    singletons: int = SINGLETONS
    """Beat, the relay and migrate: processes that run once, one connection each."""


@dataclass(frozen=True)
class ConnectionBudget:
    """The budget, line by line; ``max_connections`` is the parameter group's value."""

    web: int
    workers: int
    singletons: int
    headroom: int
    superuser_reserved: int
    by_worker_group: dict[str, int] = field(default_factory=dict)

    @property
    def app(self) -> int:
        """Connections the platform's own processes can open at once."""
        return self.web + self.workers + self.singletons

    @property
    def max_connections(self) -> int:
        """The value for Postgres's ``max_connections``."""
        return self.app + self.headroom + self.superuser_reserved


def connection_budget(spec: ConnectionBudgetInput) -> ConnectionBudget:
    """Computes the connection budget (see the module docstring for the formula)."""
    for label, value in (
        ("web_max_pods", spec.web_max_pods),
        ("pgbouncer_pool_size", spec.pgbouncer_pool_size),
        ("headroom", spec.headroom),
        ("superuser_reserved", spec.superuser_reserved),
        ("singletons", spec.singletons),
    ):
        if value < 0:
            raise ValueError(f"{label} must not be negative, got {value}")
    by_group = {}
    for group in spec.workers:
        if group.max_pods < 0 or group.connections_per_pod < 0:
            raise ValueError(f"worker group {group.name!r} has a negative size")
        by_group[group.name] = by_group.get(group.name, 0) + (
            group.max_pods * group.connections_per_pod
        )
    return ConnectionBudget(
        web=spec.web_max_pods * spec.pgbouncer_pool_size,
        workers=sum(by_group.values()),
        singletons=spec.singletons,
        headroom=spec.headroom,
        superuser_reserved=spec.superuser_reserved,
        by_worker_group=by_group,
    )
