"""The Redis tier: ElastiCache replication groups for the cache (LRU) and the broker
(noeviction), each with its own parameter group and auth token."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.common import name_tagger, rotating_key
from components.data_catalog import BROKER_POLICY, SHARED_POLICY, cache_family

REDIS_PORT = 6379
CACHE, BROKER, SHARED = "cache", "broker", "shared"
# Auth tokens go into redis:// URLs: letters and digits only, so nothing needs escaping.
AUTH_TOKEN_LENGTH = 64
# ROTATE keeps the old token valid next to the new one while clients roll over; a later apply
# with SET drops the old one. SET on a live group would cut every connected client at once.
AUTH_TOKEN_UPDATE_STRATEGY = "ROTATE"


@dataclass(frozen=True)
class RedisGroupSpec:
    """One replication group's shape."""

    node_type: str
    """ElastiCache node type."""
    replicas: int
    """Replicas besides the primary; one or more turns on automatic failover and Multi-AZ."""
    maxmemory_policy: str
    """``maxmemory-policy`` of the group's parameter group."""
    snapshot_retention_days: int = 0
    """Daily snapshots kept (0: none)."""


@dataclass(frozen=True)
class CacheArgs:
    """Inputs of the Redis tier."""

    name_prefix: str
    """Replication group ids are ``<name_prefix>-cache`` and ``<name_prefix>-broker``."""
    vpc_id: pulumi.Input[str]
    """VPC of the security group."""
    subnet_ids: list[pulumi.Input[str]]
    """Isolated subnets of the cache subnet group."""
    client_security_group_id: pulumi.Input[str]
    """The only security group admitted on 6379 (the EKS nodes and pods)."""
    availability_zones: list[str]
    """AZs the nodes of each group are spread across."""
    engine: str
    """``redis`` or ``valkey``."""
    engine_version: str
    """Engine version, e.g. ``7.1``."""
    cache: RedisGroupSpec
    """The cache group (an LRU policy)."""
    broker: RedisGroupSpec
    """The Celery broker group (``noeviction``)."""
    share_one_group: bool = False
    """dev only: one group (shaped like ``cache``) with ``volatile-lru`` serves both roles."""
    maintenance_window: str = "sun:05:00-sun:06:00"
    """When minor upgrades apply (UTC)."""
    apply_immediately: bool = False
    """Apply modifications now instead of in the maintenance window."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags merged into every resource's own."""


def member_cluster_ids(group_id: str, spec: RedisGroupSpec) -> list[str]:
    """The node ids ElastiCache gives a cluster-mode-disabled group: ``<id>-001``, ..."""
    return [f"{group_id}-{n:03d}" for n in range(1, spec.replicas + 2)]


@dataclass
class RedisGroupOutputs:
    """What consumers read from one group."""

    group_id: str
    node_ids: list[str]
    primary_endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    auth_token: pulumi.Output[str]
    maxmemory_policy: str


class Cache(pulumi.ComponentResource):
    """Creates: a KMS key (rotation on), a subnet group in the isolated subnets, a security group
    admitting 6379 only from the client security group, and per role (cache, broker; or one
    shared group in dev when asked) a parameter group, an auth token (random, secret) and an
    encrypted replication group spread across AZs."""

    security_group_id: pulumi.Output[str]
    port: int
    cache_primary_endpoint: pulumi.Output[str]
    cache_reader_endpoint: pulumi.Output[str]
    cache_auth_token: pulumi.Output[str]
    cache_node_ids: list[str]
    broker_primary_endpoint: pulumi.Output[str]
    broker_reader_endpoint: pulumi.Output[str]
    broker_auth_token: pulumi.Output[str]
    broker_node_ids: list[str]
    shared: bool

    def __init__(
        self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("quintet:cache:Cache", name, None, opts)
        if not args.share_one_group and args.broker.maxmemory_policy != BROKER_POLICY:
            raise ValueError(
                f"the broker's maxmemory-policy must be {BROKER_POLICY}, not "
                f"{args.broker.maxmemory_policy}: an evicting broker loses Celery messages"
            )
        child = pulumi.ResourceOptions(parent=self)
        family = cache_family(args.engine, args.engine_version)

        tags = name_tagger(name, args.tags)

        key = rotating_key(
            f"{name}-key", f"{args.name_prefix}: ElastiCache at-rest encryption", tags("key"), child
        )
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description=f"{args.name_prefix}: isolated subnets",
            subnet_ids=args.subnet_ids,
            tags=tags("subnets"),
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="Redis: 6379 from the nodes only",
            egress=[],  # Redis initiates no connections
            tags=tags("sg"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-nodes",
            security_group_id=security_group.id,
            ip_protocol="tcp",
            from_port=REDIS_PORT,
            to_port=REDIS_PORT,
            referenced_security_group_id=args.client_security_group_id,
            description="redis from the nodes",
            opts=child,
        )

        def group(role: str, spec: RedisGroupSpec) -> RedisGroupOutputs:
            group_id = f"{args.name_prefix}-{role}"
            params = aws.elasticache.ParameterGroup(
                f"{name}-{role}-params",
                family=family,
                description=f"{group_id}: maxmemory-policy {spec.maxmemory_policy}",
                parameters=[{"name": "maxmemory-policy", "value": spec.maxmemory_policy}],
                tags=tags(f"{role}-params"),
                opts=child,
            )
            token = random.RandomPassword(
                f"{name}-{role}-auth-token",
                length=AUTH_TOKEN_LENGTH,
                special=False,
                opts=child,
            )
            # RandomPassword.result is a secret already; wrapping again keeps it one whatever
            # the provider version does.
            secret_token = pulumi.Output.secret(token.result)
            highly_available = spec.replicas >= 1
            nodes = member_cluster_ids(group_id, spec)
            zones = [args.availability_zones[i % len(args.availability_zones)]
                     for i in range(len(nodes))]
            replication_group = aws.elasticache.ReplicationGroup(
                f"{name}-{role}",
                replication_group_id=group_id,
                description=f"{args.name_prefix} {role} ({spec.maxmemory_policy})",
                engine=args.engine,
                engine_version=args.engine_version,
                node_type=spec.node_type,
                cluster_mode="disabled",
                num_cache_clusters=len(nodes),
                preferred_cache_cluster_azs=zones,
                automatic_failover_enabled=highly_available,
                multi_az_enabled=highly_available,
                parameter_group_name=params.name,
                port=REDIS_PORT,
                subnet_group_name=subnet_group.name,
                security_group_ids=[security_group.id],
                at_rest_encryption_enabled=True,
                kms_key_id=key.arn,
                transit_encryption_enabled=True,
                auth_token=secret_token,
                auth_token_update_strategy=AUTH_TOKEN_UPDATE_STRATEGY,
                auto_minor_version_upgrade=True,
                maintenance_window=args.maintenance_window,
                snapshot_retention_limit=spec.snapshot_retention_days,
                apply_immediately=args.apply_immediately,
                tags=tags(role),
                opts=child,
            )
            return RedisGroupOutputs(
                group_id=group_id,
                node_ids=nodes,
                primary_endpoint=replication_group.primary_endpoint_address,
                reader_endpoint=replication_group.reader_endpoint_address,
                auth_token=secret_token,
                maxmemory_policy=spec.maxmemory_policy,
            )

        if args.share_one_group:
            shared = group(
                SHARED, RedisGroupSpec(args.cache.node_type, args.cache.replicas, SHARED_POLICY)
            )
            cache, broker = shared, shared
        else:
            cache = group(CACHE, args.cache)
            broker = group(BROKER, args.broker)

        self.shared = args.share_one_group
        self.security_group_id = security_group.id
        self.port = REDIS_PORT
        self.cache_primary_endpoint = cache.primary_endpoint
        self.cache_reader_endpoint = cache.reader_endpoint
        self.cache_auth_token = cache.auth_token
        self.cache_node_ids = cache.node_ids
        self.broker_primary_endpoint = broker.primary_endpoint
        self.broker_reader_endpoint = broker.reader_endpoint
        self.broker_auth_token = broker.auth_token
        self.broker_node_ids = broker.node_ids
        self.register_outputs(
            {
                "security_group_id": self.security_group_id,
                "port": self.port,
                "cache_primary_endpoint": self.cache_primary_endpoint,
                "cache_reader_endpoint": self.cache_reader_endpoint,
                "cache_auth_token": self.cache_auth_token,
                "broker_primary_endpoint": self.broker_primary_endpoint,
                "broker_reader_endpoint": self.broker_reader_endpoint,
                "broker_auth_token": self.broker_auth_token,
            }
        )
