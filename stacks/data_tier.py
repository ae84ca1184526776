"""Wires the data tier from settings: the database, the Redis groups and their alarms."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.cache import Cache, CacheArgs, RedisGroupSpec
from components.data_alarms import DataAlarms, DataAlarmsArgs
from components.database import Database, DatabaseArgs
from components.network import Network
from stacks.connections import connection_budget_for
from stacks.settings.model import Settings


@dataclass(frozen=True)
class DataTier:
    """The data tier's components; their attributes are what the workloads consume."""

    database: Database
    cache: Cache
    alarms: DataAlarms


def build_data_tier(
    settings: Settings, network: Network, *, prefix: str, opts: pulumi.ResourceOptions
) -> DataTier:
    """Declares the database, cache, broker and alarms of one stack in the isolated subnets."""
    db, redis, alarms = settings.database, settings.cache, settings.alarms
    # RDS forbids / @ " and spaces in the master password; letters and digits are plenty at 40.
    master_password = random.RandomPassword(
        "database-master-password", length=40, special=False, opts=opts
    )
    database = Database(
        "database",
        DatabaseArgs(
            identifier=prefix,
            vpc_id=network.vpc_id,
            subnet_ids=network.isolated_subnet_ids,
            client_security_group_id=network.node_security_group_id,
            availability_zones=network.availability_zones,
            engine_version=db.engine_version,
            instance_class=db.instance_class,
            max_connections=connection_budget_for(settings).max_connections,
            replicas=db.replicas,
            multi_az=db.multi_az,
            allocated_storage_gib=db.allocated_storage_gib,
            max_allocated_storage_gib=db.max_allocated_storage_gib,
            backup_retention_days=db.backup_retention_days,
            deletion_protection=db.deletion_protection,
            final_snapshot=db.final_snapshot,
            db_name=db.name,
            master_username=db.master_username,
            master_password=master_password.result,
            statement_timeout_ms=db.statement_timeout_ms,
            log_min_duration_ms=db.log_min_duration_ms,
            maintenance_window=db.maintenance_window,
            backup_window=db.backup_window,
            # One data-tier switch (quintet:dataApplyImmediately), kept with the cache settings.
            apply_immediately=redis.apply_immediately,
        ),
        opts=opts,
    )
    cache = Cache(
        "redis",
        CacheArgs(
            name_prefix=prefix,
            vpc_id=network.vpc_id,
            subnet_ids=network.isolated_subnet_ids,
            client_security_group_id=network.node_security_group_id,
            availability_zones=network.availability_zones,
            engine=redis.engine,
            engine_version=redis.engine_version,
            cache=RedisGroupSpec(redis.node_type, redis.replicas, redis.maxmemory_policy),
            broker=RedisGroupSpec(
                redis.broker_node_type,
                redis.broker_replicas,
                redis.broker_maxmemory_policy,
                snapshot_retention_days=redis.broker_snapshot_retention_days,
            ),
            share_one_group=redis.share_one_group,
            maintenance_window=redis.maintenance_window,
            apply_immediately=redis.apply_immediately,
        ),
        opts=opts,
    )
    data_alarms = DataAlarms(
        "data-alarms",
        DataAlarmsArgs(
            primary_identifier=database.primary_identifier,
            replica_identifiers=database.replica_identifiers,
            max_connections=database.max_connections,
            allocated_storage_gib=database.allocated_storage_gib,
            cache_node_ids=cache.cache_node_ids,
            broker_node_ids=cache.broker_node_ids,
            emails=alarms.emails,
            replica_lag_seconds=alarms.replica_lag_seconds,
            cpu_percent=alarms.cpu_percent,
            free_storage_percent=alarms.free_storage_percent,
            connections_percent=alarms.connections_percent,
            cache_evictions_per_5min=alarms.cache_evictions_per_5min,
            broker_memory_percent=alarms.broker_memory_percent,
            # A shared dev group evicts cache keys by design; only its memory is watched.
            any_broker_eviction=not redis.share_one_group,
        ),
        opts=opts,
    )
    return DataTier(database=database, cache=cache, alarms=data_alarms)


def export_data_tier(data: DataTier) -> None:
    """Stack outputs of the data tier; the password only as a secret output."""
    database, cache = data.database, data.cache
    pulumi.export("db_writer_address", database.writer_address)
    pulumi.export("db_writer_endpoint", database.writer_endpoint)
    pulumi.export("db_replica_addresses", database.replica_addresses)
    pulumi.export("db_port", database.port)
    pulumi.export("db_name", database.db_name)
    pulumi.export("db_master_username", database.master_username)
    # `pulumi stack output db_master_password --show-secrets`: encrypted in state, never plain.
    pulumi.export("db_master_password", database.master_password)
    pulumi.export("db_max_connections", database.max_connections)
    pulumi.export("cache_primary_endpoint", cache.cache_primary_endpoint)
    pulumi.export("cache_reader_endpoint", cache.cache_reader_endpoint)
    pulumi.export("broker_primary_endpoint", cache.broker_primary_endpoint)
    pulumi.export("broker_reader_endpoint", cache.broker_reader_endpoint)
    pulumi.export("redis_port", cache.port)
    pulumi.export("data_alarms_topic_arn", data.alarms.topic_arn)
