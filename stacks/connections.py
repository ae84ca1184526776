"""The stack's Postgres connection budget, from its settings (the formula lives in
``components.connection_budget``; the data tier and the workloads both call this)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.connection_budget import (
    ConnectionBudget,
    ConnectionBudgetInput,
    WorkerGroup,
    connection_budget,
)

if TYPE_CHECKING:  # the settings package's loader imports this module: no import cycle at runtime
    from stacks.settings.model import Settings


def connection_budget_input(settings: Settings) -> ConnectionBudgetInput:
    """The budget's inputs: web pods and each queue's workers at their maximum."""
    work = settings.workloads
    return ConnectionBudgetInput(
        web_max_pods=work.web_max_replicas,
        pgbouncer_pool_size=work.pgbouncer_pool_size,
        workers=tuple(
            WorkerGroup(name=queue, max_pods=spec.max_replicas,
                        connections_per_pod=spec.concurrency)
            for queue, spec in work.queues.items()
        ),
        headroom=settings.database.connection_headroom,
    )


def connection_budget_for(settings: Settings) -> ConnectionBudget:
    """The connection budget of a stack; ``.max_connections`` goes into the parameter group."""
    return connection_budget(connection_budget_input(settings))
