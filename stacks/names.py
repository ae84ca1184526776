"""The AWS names a stack derives from its name, held to AWS's limits before anything exists.

A stack called ``customer-facing-production-eu`` would otherwise get as far as ElastiCache,
minutes into ``pulumi up``, before AWS refused ``quintet-customer-facing-production-eu-broker``
(44 characters; the limit is 40).
"""

from __future__ import annotations

from components.aws_names import (
    ELASTICACHE_GROUP_ID,
    RDS_INSTANCE_ID,
    RDS_SNAPSHOT_ID,
    NameRule,
    name_problem,
)
from components.cache import BROKER, CACHE, SHARED
from components.database import FINAL_SNAPSHOT_SUFFIX_HEX
from stacks.settings import Settings

MAX_REPLICA_NAMES = 5  # dbReplicas' maximum: a fork may raise it later without a rename


def stack_prefix(stack: str) -> str:
    """The prefix of every name the stack gives AWS (cluster, repository, database, groups)."""
    return f"quintet-{stack}"


def derived_names(stack: str, settings: Settings) -> list[tuple[NameRule, str]]:
    """Every stack-derived name with the rule AWS holds it to."""
    prefix = stack_prefix(stack)
    roles = (SHARED,) if settings.cache.share_one_group else (CACHE, BROKER)
    names: list[tuple[NameRule, str]] = [(RDS_INSTANCE_ID, prefix)]
    names += [
        (RDS_INSTANCE_ID, f"{prefix}-replica-{n}")
        for n in range(1, max(settings.database.replicas, MAX_REPLICA_NAMES) + 1)
    ]
    names.append((RDS_SNAPSHOT_ID, f"{prefix}-final-{'0' * FINAL_SNAPSHOT_SUFFIX_HEX}"))
    names += [(ELASTICACHE_GROUP_ID, f"{prefix}-{role}") for role in roles]
    return names


def stack_name_problems(stack: str, settings: Settings) -> list[str]:
    """One line per derived name AWS would refuse, naming the stack and the limit."""
    problems = []
    for rule, value in derived_names(stack, settings):
        problem = name_problem(rule, value)
        if problem is None:
            continue
        room = rule.max_length - (len(value) - len(stack))
        problems.append(
            f"stack {stack!r}: the name is not allowed; the {problem}. Use a stack name of at "
            f"most {room} characters (lower-case letters, digits and single hyphens)"
        )
    return problems
