"""A query budget across every database alias (primary and replicas), for in-process tests.

pytest-django's `django_assert_max_num_queries` watches one connection; the app reads from a
replica and writes to the primary, so a budget has to count both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field


@dataclass
class Queries:
    """The SQL each alias ran inside the block (filled when the block ends)."""

    by_alias: dict[str, list[str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Queries on every alias together."""
        return sum(len(sql) for sql in self.by_alias.values())


@contextmanager
def max_queries(budget: int) -> Iterator[Queries]:
    """Fail when the block runs more than `budget` queries on all aliases together."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    queries = Queries()
    with ExitStack() as stack:
        captures = {alias: stack.enter_context(CaptureQueriesContext(connections[alias]))
                    for alias in connections}
        yield queries
    queries.by_alias = {alias: [q["sql"] for q in capture.captured_queries]
                        for alias, capture in captures.items()}
    listing = "\n".join(f"  {alias}: {sql}" for alias, sqls in queries.by_alias.items()
                        for sql in sqls)
    assert queries.count <= budget, (
        f"{queries.count} queries, over the budget of {budget}:\n{listing}")
