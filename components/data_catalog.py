"""What the data tier's engines accept: parameter families per version, storage bounds.

Plain tables and lookups, no Pulumi: the settings validator and the components read the same
facts, so a version the component could not deploy is refused before any resource is declared.
"""

from __future__ import annotations

import re

# RDS Postgres major version -> the parameter group family AWS names for it.
POSTGRES_FAMILIES: dict[str, str] = {
    "14": "postgres14",
    "15": "postgres15",
    "16": "postgres16",
    "17": "postgres17",
}

# Allocated storage bounds (GiB) of RDS Postgres per storage type (AWS's documented limits).
POSTGRES_STORAGE_GIB: dict[str, tuple[int, int]] = {"gp3": (20, 65536)}
POSTGRES_STORAGE_TYPE = "gp3"  # baseline IOPS independent of size; io2 would need IOPS settings

# ElastiCache (engine, major version) -> parameter group family.
CACHE_FAMILIES: dict[tuple[str, str], str] = {
    ("redis", "6"): "redis6.x",
    ("redis", "7"): "redis7",
    ("valkey", "7"): "valkey7",
    ("valkey", "8"): "valkey8",
}
CACHE_ENGINES = ("redis", "valkey")

# Eviction policies. The broker must never evict: an evicted Celery message is a lost task.
BROKER_POLICY = "noeviction"
LRU_POLICIES = ("allkeys-lru", "volatile-lru")
CACHE_POLICIES = ("allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu")
# A dev stack that shares one group between cache and broker: only keys with a TTL (the cache's)
# may be evicted, broker keys (no TTL) never are.
SHARED_POLICY = "volatile-lru"

_VERSION = re.compile(r"^(\d+)(\.\d+){0,2}$")


class UnknownVersion(ValueError):
    """An engine version the catalog has no parameter family for; the text lists what is."""


def _major(version: str) -> str | None:
    match = _VERSION.match(version.strip())
    return match.group(1) if match else None


def postgres_family(version: str) -> str:
    """The parameter group family of an RDS Postgres version such as ``16`` or ``16.4``."""
    family = POSTGRES_FAMILIES.get(_major(version) or "")
    if family is None:
        known = ", ".join(f"{v} ({f})" for v, f in POSTGRES_FAMILIES.items())
        raise UnknownVersion(f"no parameter group family for Postgres {version!r}; known: {known}")
    return family


def cache_family(engine: str, version: str) -> str:
    """The parameter group family of an ElastiCache engine version such as ``redis`` ``7.1``."""
    family = CACHE_FAMILIES.get((engine, _major(version) or ""))
    if family is None:
        known = ", ".join(f"{e} {v}.x ({f})" for (e, v), f in CACHE_FAMILIES.items())
        raise UnknownVersion(f"no parameter group family for {engine} {version!r}; known: {known}")
    return family


# RDS sizes the default max_connections as LEAST(DBInstanceClassMemory / 9531392, 5000): about
# 9 MiB of memory per backend. The validator refuses a budget above what the class's memory
# holds by that rule. Memory in GiB of the classes this kit's presets and docs mention; a class
# not listed is not checked.
RDS_BYTES_PER_CONNECTION = 9531392
RDS_CLASS_MEMORY_GIB: dict[str, float] = {
    "db.t4g.micro": 1, "db.t4g.small": 2, "db.t4g.medium": 4, "db.t4g.large": 8,
    "db.t4g.xlarge": 16, "db.t4g.2xlarge": 32,
    "db.m7g.large": 8, "db.m7g.xlarge": 16, "db.m7g.2xlarge": 32, "db.m7g.4xlarge": 64,
    "db.r7g.large": 16, "db.r7g.xlarge": 32, "db.r7g.2xlarge": 64, "db.r7g.4xlarge": 128,
    "db.r6g.large": 16, "db.r6g.xlarge": 32, "db.r6g.2xlarge": 64,
}


def memory_connection_limit(instance_class: str) -> int | None:
    """The connections an instance class's memory holds by RDS's own rule (None if unknown)."""
    gib = RDS_CLASS_MEMORY_GIB.get(instance_class)
    if gib is None:
        return None
    return min(int(gib * 1024**3) // RDS_BYTES_PER_CONNECTION, 5000)
