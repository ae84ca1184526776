"""Suite-wide: how `make test` spreads the tests over its pytest-xdist workers.

The app, Celery and end-to-end tests each share session fixtures that start real services (a
Postgres pair, PgBouncer, Redis, workers, or the whole topology). Each of those directories runs
on one worker, so its services start once, while the other worker overlaps them with another
directory or the offline tests (spread file by file).

xdist's own ``--dist loadgroup`` cannot do this with pytest 9: it renames ``item._nodeid``, which
pytest 9 no longer reads, so every group silently falls apart. A scheduler hook is xdist's
supported extension point instead.
"""

from __future__ import annotations

from typing import Any

import pytest

SHARED_SERVICES = ("app", "celery", "e2e")
"""Test directories whose tests share one set of started services."""


def scope_of(nodeid: str) -> str:
    """The unit one worker runs whole: a service-sharing directory, else a test file."""
    parts = nodeid.split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in SHARED_SERVICES:
        return f"tests/{parts[1]}"
    return nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's: a run without xdist must not fail on it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Schedule by `scope_of` (only under -n; a plain run never asks)."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedServicesScheduling(LoadScopeScheduling):
        """LoadScope with `scope_of` as the scope of a test."""

        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return SharedServicesScheduling(config, log)
