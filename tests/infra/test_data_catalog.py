"""Pure rules of the data tier: the connection budget and the engine catalog."""

from __future__ import annotations

import pytest

from components.cache import RedisGroupSpec, member_cluster_ids
from components.connection_budget import ConnectionBudgetInput, WorkerGroup, connection_budget
from components.data_alarms import subscription_suffix
from components.data_catalog import (
    UnknownVersion,
    cache_family,
    memory_connection_limit,
    postgres_family,
)


def test_budget_is_web_pools_plus_workers_plus_singletons_headroom_and_reserved():
    budget = connection_budget(
        ConnectionBudgetInput(
            web_max_pods=30,
            pgbouncer_pool_size=10,
            workers=(WorkerGroup("default", 12, 4), WorkerGroup("low", 6, 2)),
            headroom=20,
        )
    )
    assert budget.web == 300
    assert budget.workers == 60
    assert budget.by_worker_group == {"default": 48, "low": 12}
    assert budget.app == 300 + 60 + 3  # beat, the outbox relay, migrate
    assert budget.max_connections == 363 + 20 + 3


def test_budget_refuses_negative_sizes():
    with pytest.raises(ValueError, match="headroom"):
        connection_budget(ConnectionBudgetInput(web_max_pods=1, pgbouncer_pool_size=1,
                                                headroom=-1))


@pytest.mark.parametrize(("version", "family"), [("16", "postgres16"), ("17.4", "postgres17"),
                                                 ("14.12", "postgres14")])
def test_postgres_family(version, family):
    assert postgres_family(version) == family


@pytest.mark.parametrize("version", ["13", "18", "17.x", "", "sixteen"])
def test_unknown_postgres_versions(version):
    with pytest.raises(UnknownVersion, match="known: 14"):
        postgres_family(version)


def test_cache_families():
    assert cache_family("redis", "7.1") == "redis7"
    assert cache_family("redis", "6.2") == "redis6.x"
    assert cache_family("valkey", "8.0") == "valkey8"
    with pytest.raises(UnknownVersion):
        cache_family("valkey", "6.2")


def test_memory_connection_limit_follows_rds_rule():
    assert memory_connection_limit("db.t4g.micro") == 1024**3 // 9531392
    assert memory_connection_limit("db.r7g.large") == 16 * 1024**3 // 9531392
    assert memory_connection_limit("db.x2g.16xlarge") is None


def test_member_cluster_ids_follow_elasticache_naming():
    assert member_cluster_ids("q-broker", RedisGroupSpec("cache.t4g.small", 2, "noeviction")) == [
        "q-broker-001", "q-broker-002", "q-broker-003"]


def test_subscription_names_do_not_depend_on_list_order():
    assert subscription_suffix("Ops@Example.com") == subscription_suffix("ops@example.com")
    assert subscription_suffix("a@example.com") != subscription_suffix("b@example.com")
