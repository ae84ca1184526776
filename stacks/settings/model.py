"""The typed settings of one stack: the whole topology, section by section.

Every leaf is declared with ``setting()``: its config key (``quintet:<key>``), a description,
and constraints. Defaults here are the dev-sized baseline; ``presets.py`` holds what each tier
changes, and a stack file overrides only what differs from its tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stacks.settings.fields import setting

TIERS = ("dev", "staging", "prod")
NAT_STRATEGIES = ("none", "single", "per-az")
CAPACITY_TYPES = ("ON_DEMAND", "SPOT")


def section(cls: type, prefix: str = "", label: str = "") -> object:
    """Declares a nested settings section; ``prefix`` is prepended to its keys and ``label`` to
    their descriptions."""
    return field(default_factory=cls, metadata={"section": True, "prefix": prefix, "label": label})


@dataclass(frozen=True)
class NetworkSettings:
    """The VPC: its CIDR, availability zones, subnet sizes and NAT strategy."""

    cidr: str = setting("10.40.0.0/16", "vpcCidr", "Base CIDR of the VPC.", kind="cidr")
    az_count: int = setting(
        2, "azCount", "Availability zones to spread subnets across.", minimum=1, maximum=6
    )
    nat_strategy: str = setting(
        "single",
        "natStrategy",
        "NAT gateways: none, one shared (single), or one per AZ (per-az).",
        choices=NAT_STRATEGIES,
    )
    public_prefix: int = setting(
        24, "publicSubnetPrefix", "Prefix length of each public subnet (ALB, NAT).",
        minimum=16, maximum=28,
    )
    private_prefix: int = setting(
        20, "privateSubnetPrefix", "Prefix length of each private subnet (nodes and pods).",
        minimum=16, maximum=28,
    )
    isolated_prefix: int = setting(
        24, "isolatedSubnetPrefix", "Prefix length of each isolated subnet (RDS, ElastiCache).",
        minimum=16, maximum=28,
    )


@dataclass(frozen=True)
class NodePoolSettings:
    """One EKS managed node group."""

    instance_types: list[str] = setting(
        ["t3.medium"], "InstanceTypes", "EC2 instance types of the pool, in preference order."
    )
    capacity_type: str = setting(
        "ON_DEMAND", "CapacityType", "ON_DEMAND or SPOT.", choices=CAPACITY_TYPES
    )
    min_size: int = setting(1, "Min", "Minimum node count.", minimum=0, maximum=1000)
    max_size: int = setting(3, "Max", "Maximum node count.", minimum=1, maximum=1000)
    desired_size: int = setting(
        1, "Desired", "Initial node count; the autoscaler owns it afterwards.",
        minimum=0, maximum=1000,
    )


@dataclass(frozen=True)
class ClusterSettings:
    """The EKS cluster and its node pools."""

    kubernetes_version: str = setting(
        "1.33", "kubernetesVersion", "EKS Kubernetes version (1.29 or newer)."
    )
    system_pool: NodePoolSettings = section(NodePoolSettings, "systemPool", "system node pool")
    web_pool: NodePoolSettings = section(NodePoolSettings, "webPool", "web node pool")
    workers_pool: NodePoolSettings = section(NodePoolSettings, "workersPool", "workers node pool")


@dataclass(frozen=True)
class DatabaseSettings:
    """The RDS Postgres primary and its read replicas."""

    instance_class: str = setting("db.t4g.medium", "dbInstanceClass", "RDS instance class.")
    replicas: int = setting(0, "dbReplicas", "Read replicas.", minimum=0, maximum=5)
    multi_az: bool = setting(False, "dbMultiAz", "Multi-AZ standby for the primary.")
    deletion_protection: bool = setting(
        False, "dbDeletionProtection", "Refuse deletion of the primary; keep a final snapshot."
    )
    backup_retention_days: int = setting(
        1, "dbBackupRetentionDays", "Automated backup retention in days.", minimum=0, maximum=35
    )


@dataclass(frozen=True)
class CacheSettings:
    """The ElastiCache Redis groups: cache (LRU) and broker (noeviction)."""

    node_type: str = setting("cache.t4g.small", "cacheNodeType", "Node type of the cache group.")
    broker_node_type: str = setting(
        "cache.t4g.small", "brokerNodeType", "Node type of the broker group."
    )


@dataclass(frozen=True)
class EdgeSettings:
    """Cloudflare in front of the ALB."""

    enabled: bool = setting(False, "edgeEnabled", "Put Cloudflare in front of the ALB.")
    zone_id: str = setting("", "cloudflareZoneId", "Cloudflare zone id (required with the edge).")
    domain: str = setting(
        "dev.example.com", "domain", "Public host name of the app.", kind="dns-name"
    )


@dataclass(frozen=True)
class WorkloadSettings:
    """What runs in the cluster: web replicas and Celery workers."""

    web_min_replicas: int = setting(1, "webMinReplicas", "HPA minimum web pods.", minimum=1)
    web_max_replicas: int = setting(3, "webMaxReplicas", "HPA maximum web pods.", minimum=1)


@dataclass(frozen=True)
class ImageSettings:
    """The app image and its ECR repository."""

    tag: str = setting(
        "latest", "imageTag", "Tag of the app image to deploy (CI sets the commit sha)."
    )
    keep_images: int = setting(
        30, "ecrKeepImages", "Tagged images ECR keeps before expiring the oldest.",
        minimum=1, maximum=1000,
    )


@dataclass(frozen=True)
class Settings:
    """Everything one stack declares, validated before any resource exists."""

    tier: str = setting("dev", "tier", "Tier preset the stack starts from.", choices=TIERS)
    network: NetworkSettings = section(NetworkSettings)
    cluster: ClusterSettings = section(ClusterSettings)
    database: DatabaseSettings = section(DatabaseSettings)
    cache: CacheSettings = section(CacheSettings)
    edge: EdgeSettings = section(EdgeSettings)
    workloads: WorkloadSettings = section(WorkloadSettings)
    image: ImageSettings = section(ImageSettings)
