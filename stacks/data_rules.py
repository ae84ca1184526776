"""Cross-field rules of the data tier: engine versions, storage, eviction policies, per-tier
safety, and the connection budget against the instance class."""

from __future__ import annotations

import json

from components.data_catalog import (
    BROKER_POLICY,
    POSTGRES_STORAGE_GIB,
    POSTGRES_STORAGE_TYPE,
    UnknownVersion,
    cache_family,
    memory_connection_limit,
    postgres_family,
)
from stacks.connections import connection_budget_for
from stacks.settings.fields import CONFIG_NAMESPACE
from stacks.settings.model import Settings

PROD_MIN_BACKUP_DAYS = 7


def _key(name: str) -> str:
    return f"{CONFIG_NAMESPACE}:{name}"


def data_tier_problems(settings: Settings) -> list[str]:
    """Every data-tier rule the settings break, one line each."""
    db, cache = settings.database, settings.cache
    problems: list[str] = []
    try:
        postgres_family(db.engine_version)
    except UnknownVersion as unknown:
        problems.append(
            f"{_key('dbEngineVersion')}: {json.dumps(db.engine_version)} is not allowed; {unknown}"
        )
    low, high = POSTGRES_STORAGE_GIB[POSTGRES_STORAGE_TYPE]
    if not low <= db.allocated_storage_gib <= high:
        problems.append(
            f"{_key('dbAllocatedStorageGib')}: {db.allocated_storage_gib} is not allowed; "
            f"Postgres on {POSTGRES_STORAGE_TYPE} takes {low} to {high} GiB"
        )
    elif db.max_allocated_storage_gib < db.allocated_storage_gib:
        problems.append(
            f"{_key('dbMaxAllocatedStorageGib')}: {db.max_allocated_storage_gib} is not allowed; "
            f"it must be at least {_key('dbAllocatedStorageGib')} ({db.allocated_storage_gib})"
        )
    try:
        cache_family(cache.engine, cache.engine_version)
    except UnknownVersion as unknown:
        problems.append(
            f"{_key('cacheEngineVersion')}: {json.dumps(cache.engine_version)} is not allowed; "
            f"{unknown}"
        )
    if cache.broker_maxmemory_policy != BROKER_POLICY:
        problems.append(
            f"{_key('brokerMaxmemoryPolicy')}: {json.dumps(cache.broker_maxmemory_policy)} is "
            f"not allowed; the broker must use {BROKER_POLICY} (an evicting broker silently "
            "loses Celery messages)"
        )
    if cache.share_one_group and settings.tier != "dev":
        problems.append(
            f"{_key('cacheShareOneGroup')}: true is not allowed in the {settings.tier} tier; "
            "only dev may share one Redis group between cache and broker"
        )
    if db.replicas > 0 and db.backup_retention_days == 0:
        problems.append(
            f"{_key('dbBackupRetentionDays')}: 0 is not allowed with {_key('dbReplicas')} = "
            f"{db.replicas}; RDS creates read replicas only from a source with automated "
            "backups, so keep at least 1 day"
        )
    if settings.tier == "prod":
        if db.backup_retention_days < PROD_MIN_BACKUP_DAYS:
            problems.append(
                f"{_key('dbBackupRetentionDays')}: {db.backup_retention_days} is not allowed in "
                f"prod; keep at least {PROD_MIN_BACKUP_DAYS} days"
            )
        for key, replicas in (("cacheReplicas", cache.replicas),
                              ("brokerReplicas", cache.broker_replicas)):
            if replicas < 1:
                problems.append(
                    f"{_key(key)}: {replicas} is not allowed in prod; at least 1 replica "
                    "(automatic failover and Multi-AZ need one)"
                )
    budget = connection_budget_for(settings)
    limit = memory_connection_limit(db.instance_class)
    if limit is not None and budget.max_connections > limit:
        problems.append(
            f"{_key('dbInstanceClass')}: {json.dumps(db.instance_class)} is not allowed; the "
            f"connection budget needs max_connections {budget.max_connections} but its memory "
            f"holds {limit} (RDS's rule). Use a larger class, or lower {_key('webMaxReplicas')}, "
            f"{_key('pgbouncerPoolSize')} or the workers' Max/Concurrency"
        )
    return problems
