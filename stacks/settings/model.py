"""The typed settings of one stack: the whole topology, section by section.

Every leaf is declared with ``setting()``: its config key (``quintet:<key>``), a description,
and constraints. Defaults here are the dev-sized baseline; ``presets.py`` holds what each tier
changes, and a stack file overrides only what differs from its tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from components.data_catalog import CACHE_ENGINES, CACHE_POLICIES
from components.eks_releases import DEFAULT_VERSION, EKS_RELEASES
from stacks.settings.fields import setting

TIERS = ("dev", "staging", "prod")
NAT_STRATEGIES = ("single", "per-az")
NO_NAT_REFUSED = (
    "no NAT is not offered: nodes pull the controllers' and PgBouncer's images from public "
    "registries and the app calls third-party upstreams, which VPC endpoints cannot reach"
)
CAPACITY_TYPES = ("ON_DEMAND", "SPOT")
_DEFAULT_RELEASE = EKS_RELEASES[DEFAULT_VERSION]


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
        "NAT gateways: one shared (single) or one per AZ (per-az).",
        choices=NAT_STRATEGIES,
        why=NO_NAT_REFUSED,
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

    @property
    def subnet_prefixes(self) -> dict[str, int]:
        """Prefix length per subnet tier, as ``components.subnets.plan_subnets`` takes it."""
        return {
            "public": self.public_prefix,
            "private": self.private_prefix,
            "isolated": self.isolated_prefix,
        }


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
    """The EKS cluster, its node pools, managed add-ons and cluster software."""

    kubernetes_version: str = setting(
        DEFAULT_VERSION, "kubernetesVersion",
        "EKS Kubernetes version, MAJOR.MINOR, one of the kit's EKS table "
        "(components/eks_releases.py); the add-on, chart and autoscaler pins below default to "
        "that version's row.",
        kind="kubernetes-version",
    )
    endpoint_public_access: bool = setting(
        True, "clusterEndpointPublicAccess",
        "Expose the API endpoint publicly (restricted to clusterPublicAccessCidrs); the private "
        "endpoint is always on. Off means `pulumi up` must run from inside the VPC.",
    )
    public_access_cidrs: list[str] = setting(
        ["0.0.0.0/0"], "clusterPublicAccessCidrs",
        "CIDRs allowed to reach the public API endpoint (CI runners, operators). prod refuses "
        "0.0.0.0/0.",
        kind="cidr-list",
    )
    admin_role_arns: list[str] = setting(
        [], "clusterAdminRoleArns",
        "IAM role ARNs granted cluster admin through EKS access entries.",
    )
    log_retention_days: int = setting(
        30, "clusterLogRetentionDays",
        "Retention of the control-plane log group in days (a value CloudWatch Logs accepts).",
        minimum=1, maximum=3653,
    )
    addon_vpc_cni_version: str = setting(
        _DEFAULT_RELEASE.addons["vpc-cni"], "addonVpcCniVersion",
        "Pinned version of the vpc-cni add-on (default: the kubernetesVersion's row).",
    )
    addon_coredns_version: str = setting(
        _DEFAULT_RELEASE.addons["coredns"], "addonCorednsVersion",
        "Pinned version of the coredns add-on (default: the kubernetesVersion's row).",
    )
    addon_kube_proxy_version: str = setting(
        _DEFAULT_RELEASE.addons["kube-proxy"], "addonKubeProxyVersion",
        "Pinned version of the kube-proxy add-on (its minor must match kubernetesVersion).",
    )
    addon_pod_identity_version: str = setting(
        _DEFAULT_RELEASE.addons["eks-pod-identity-agent"], "addonPodIdentityAgentVersion",
        "Pinned version of the eks-pod-identity-agent add-on (default: the version's row).",
    )
    chart_lb_controller_version: str = setting(
        _DEFAULT_RELEASE.charts["aws-load-balancer-controller"],
        "chartAwsLoadBalancerControllerVersion",
        "Pinned Helm chart version of the AWS Load Balancer Controller.",
    )
    chart_metrics_server_version: str = setting(
        _DEFAULT_RELEASE.charts["metrics-server"], "chartMetricsServerVersion",
        "Pinned Helm chart version of metrics-server.",
    )
    chart_keda_version: str = setting(
        _DEFAULT_RELEASE.charts["keda"], "chartKedaVersion", "Pinned Helm chart version of KEDA."
    )
    chart_cluster_autoscaler_version: str = setting(
        _DEFAULT_RELEASE.charts["cluster-autoscaler"], "chartClusterAutoscalerVersion",
        "Pinned Helm chart version of the cluster autoscaler.",
    )
    chart_kube_prometheus_stack_version: str = setting(
        "75.15.1", "chartKubePrometheusStackVersion",
        "Pinned Helm chart version of kube-prometheus-stack (Prometheus, Alertmanager, Grafana).",
    )
    cluster_autoscaler_image_tag: str = setting(
        _DEFAULT_RELEASE.autoscaler_image_tag, "clusterAutoscalerImageTag",
        "Cluster autoscaler image tag (its minor must match kubernetesVersion).",
    )
    system_pool: NodePoolSettings = section(NodePoolSettings, "systemPool", "system node pool")
    web_pool: NodePoolSettings = section(NodePoolSettings, "webPool", "web node pool")
    workers_pool: NodePoolSettings = section(NodePoolSettings, "workersPool", "workers node pool")


@dataclass(frozen=True)
class DatabaseSettings:
    """The RDS Postgres primary and its read replicas."""

    instance_class: str = setting(
        "db.t4g.medium", "dbInstanceClass", "RDS instance class (primary and replicas)."
    )
    engine_version: str = setting(
        "17", "dbEngineVersion",
        "Postgres version: a major (minor upgrades automatic) or major.minor; 14 to 17.",
    )
    replicas: int = setting(0, "dbReplicas", "Read replicas.", minimum=0, maximum=5)
    multi_az: bool = setting(False, "dbMultiAz", "Multi-AZ standby for the primary.")
    deletion_protection: bool = setting(
        False, "dbDeletionProtection", "Refuse deletion of the primary and the replicas."
    )
    final_snapshot: bool = setting(
        False, "dbFinalSnapshot", "Take a final snapshot (and keep backups) when deleted."
    )
    backup_retention_days: int = setting(
        1, "dbBackupRetentionDays", "Automated backup retention in days (prod: 7 or more).",
        minimum=0, maximum=35,
    )
    allocated_storage_gib: int = setting(
        20, "dbAllocatedStorageGib", "Initial gp3 storage in GiB (Postgres on gp3: 20 to 65536).",
        minimum=1, maximum=65536,
    )
    max_allocated_storage_gib: int = setting(
        100, "dbMaxAllocatedStorageGib",
        "Storage autoscaling ceiling in GiB (equal to the allocation: no autoscaling).",
        minimum=1, maximum=65536,
    )
    name: str = setting("app", "dbName", "Database created on the primary.")
    master_username: str = setting(
        "quintet_admin", "dbMasterUsername",
        "Master user; its password is generated as a Pulumi secret.",
    )
    statement_timeout_ms: int = setting(
        30000, "dbStatementTimeoutMs",
        "Server default statement_timeout; the app role's own (set by its migration) wins.",
        minimum=0, maximum=3600000,
    )
    log_min_duration_ms: int = setting(
        500, "dbLogMinDurationMs", "Log statements slower than this (-1: off).",
        minimum=-1, maximum=3600000,
    )
    connection_headroom: int = setting(
        20, "dbConnectionHeadroom",
        "max_connections beyond the app's: operators, monitoring, rollout surge.",
        minimum=0, maximum=5000,
    )
    maintenance_window: str = setting(
        "sun:03:00-sun:04:00", "dbMaintenanceWindow", "Weekly maintenance window (UTC)."
    )
    backup_window: str = setting(
        "01:00-02:00", "dbBackupWindow", "Daily backup window (UTC), outside the maintenance one."
    )


@dataclass(frozen=True)
class CacheSettings:
    """The ElastiCache Redis groups: cache (LRU) and broker (noeviction)."""

    engine: str = setting(
        "redis", "cacheEngine", "ElastiCache engine of both groups.", choices=CACHE_ENGINES
    )
    engine_version: str = setting(
        "7.1", "cacheEngineVersion", "Engine version of both groups (redis 6/7, valkey 7/8)."
    )
    node_type: str = setting("cache.t4g.small", "cacheNodeType", "Node type of the cache group.")
    replicas: int = setting(
        0, "cacheReplicas", "Replicas of the cache group (1+: failover and Multi-AZ).",
        minimum=0, maximum=5,
    )
    maxmemory_policy: str = setting(
        "allkeys-lru", "cacheMaxmemoryPolicy", "maxmemory-policy of the cache group.",
        choices=CACHE_POLICIES,
    )
    broker_node_type: str = setting(
        "cache.t4g.small", "brokerNodeType", "Node type of the broker group."
    )
    broker_replicas: int = setting(
        0, "brokerReplicas", "Replicas of the broker group (1+: failover and Multi-AZ).",
        minimum=0, maximum=5,
    )
    broker_maxmemory_policy: str = setting(
        "noeviction", "brokerMaxmemoryPolicy",
        "maxmemory-policy of the broker group: only noeviction is allowed.",
    )
    broker_snapshot_retention_days: int = setting(
        0, "brokerSnapshotRetentionDays", "Daily broker snapshots kept (0: none).",
        minimum=0, maximum=35,
    )
    share_one_group: bool = setting(
        False, "cacheShareOneGroup",
        "dev only: one group (volatile-lru, cache keys all with TTLs) serves cache and broker.",
    )
    maintenance_window: str = setting(
        "sun:05:00-sun:06:00", "cacheMaintenanceWindow", "Weekly maintenance window (UTC)."
    )
    apply_immediately: bool = setting(
        True, "dataApplyImmediately",
        "Apply data-tier modifications now, not in the maintenance window. Static RDS "
        "parameters (max_connections) still wait for a reboot of each instance.",
    )


@dataclass(frozen=True)
class AlarmSettings:
    """The data tier's alarms: who is notified and the thresholds."""

    emails: list[str] = setting(
        [], "alarmEmails", "Email addresses notified by the alarms topic.", minimum=0,
        kind="email-list",
    )
    replica_lag_seconds: int = setting(
        30, "alarmReplicaLagSeconds", "Replica lag that alarms.", minimum=1, maximum=3600
    )
    cpu_percent: int = setting(
        80, "alarmCpuPercent", "Primary CPU that alarms.", minimum=1, maximum=100
    )
    free_storage_percent: int = setting(
        10, "alarmFreeStoragePercent", "Free storage (share of the allocation) that alarms.",
        minimum=1, maximum=99,
    )
    connections_percent: int = setting(
        80, "alarmConnectionsPercent", "Connections (share of max_connections) that alarm.",
        minimum=1, maximum=100,
    )
    cache_evictions_per_5min: int = setting(
        1000, "alarmCacheEvictionsPer5Min", "Cache evictions per 5 minutes that alarm.",
        minimum=1,
    )
    broker_memory_percent: int = setting(
        80, "alarmBrokerMemoryPercent", "Broker memory use that alarms.", minimum=1, maximum=100
    )


@dataclass(frozen=True)
class EdgeSettings:
    """Cloudflare in front of the ALB, and the public host name the certificate covers."""

    enabled: bool = setting(
        False, "edgeEnabled",
        "Put Cloudflare in front of the ALB (proxied DNS, cache rules, TLS strict) and admit "
        "only Cloudflare's ranges at the ALB.",
    )
    zone_id: str = setting(
        "", "cloudflareZoneId",
        "Cloudflare zone id (required with the edge). Without the edge it still lets Cloudflare "
        "host the DNS-only records and the certificate validation record.",
    )
    domain: str = setting(
        "dev.example.com", "domain", "Public host name of the app.", kind="dns-name"
    )
    static_path_prefix: str = setting(
        "/static/", "edgeStaticPathPrefix",
        "URL prefix of the hashed static files, cached at the edge for a year.",
    )


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class QueueSettings:
    """One Celery worker Deployment, consuming one queue, scaled by KEDA on the queue's length."""

    concurrency: int = setting(
        2, "Concurrency", "Prefork children per worker pod (each holds at most one DB connection).",
        minimum=1, maximum=64,
    )
    min_replicas: int = setting(
        1, "Min", "KEDA minimum worker pods (0 lets the queue scale to zero).",
        minimum=0, maximum=200,
    )
    max_replicas: int = setting(2, "Max", "KEDA maximum worker pods.", minimum=1, maximum=200)
    list_length: int = setting(
        20, "ListLength", "KEDA target: queued messages per worker pod.", minimum=1,
        maximum=100000,
    )
    activation_list_length: int = setting(
        0, "ActivationListLength",
        "KEDA activation: queued messages above which the queue scales up from zero.",
        minimum=0, maximum=100000,
    )
    hard_time_limit_seconds: int = setting(
        360, "HardTimeLimitSeconds",
        "Longest hard time limit of the queue's tasks; the pod's termination grace covers it.",
        minimum=1, maximum=86400,
    )
    cpu_request: str = setting("250m", "CpuRequest", "CPU request of the worker container.")
    cpu_limit: str = setting("1", "CpuLimit", "CPU limit of the worker container.")
    memory_request: str = setting(
        "512Mi", "MemoryRequest", "Memory request of the worker container."
    )
    memory_limit: str = setting("512Mi", "MemoryLimit", "Memory limit of the worker container.")


@dataclass(frozen=True)
class WorkloadSettings:
    """What runs in the cluster: web pods, Celery workers per queue, PgBouncer sidecars."""

    namespace: str = setting(
        "quintet", "k8sNamespace", "Kubernetes namespace of the app's workloads."
    )
    web_min_replicas: int = setting(1, "webMinReplicas", "HPA minimum web pods.", minimum=1)
    web_max_replicas: int = setting(3, "webMaxReplicas", "HPA maximum web pods.", minimum=1)
    web_concurrency: int = setting(
        2, "webConcurrency", "uvicorn worker processes per web pod.", minimum=1, maximum=32
    )
    web_cpu_request: str = setting("500m", "webCpuRequest", "CPU request of the web container.")
    web_cpu_limit: str = setting("1", "webCpuLimit", "CPU limit of the web container.")
    web_memory_request: str = setting(
        "768Mi", "webMemoryRequest", "Memory request of the web container."
    )
    web_memory_limit: str = setting(
        "768Mi", "webMemoryLimit", "Memory limit of the web container."
    )
    web_hpa_cpu_percent: int = setting(
        70, "webHpaCpuPercent", "HPA target: average CPU utilization of web pods (% of request).",
        minimum=10, maximum=100,
    )
    web_hpa_memory_percent: int = setting(
        80, "webHpaMemoryPercent",
        "HPA target: average memory utilization of web pods (% of request).",
        minimum=10, maximum=100,
    )
    web_scale_down_stabilization_seconds: int = setting(
        300, "webScaleDownStabilizationSeconds",
        "HPA scale-down stabilization window: the highest recommendation in it wins.",
        minimum=0, maximum=3600,
    )
    web_pre_stop_sleep_seconds: int = setting(
        15, "webPreStopSleepSeconds",
        "preStop sleep before SIGTERM, so the ALB stops routing to a terminating pod.",
        minimum=1, maximum=120,
    )
    pgbouncer_pool_size: int = setting(
        10, "pgbouncerPoolSize",
        "PgBouncer default_pool_size of each web pod: server connections per database.",
        minimum=1, maximum=200,
    )
    pgbouncer_max_client_conn: int = setting(
        200, "pgbouncerMaxClientConn", "PgBouncer max_client_conn of every sidecar.",
        minimum=10, maximum=10000,
    )
    pgbouncer_image: str = setting(
        "docker.io/edoburu/pgbouncer:v1.24.1-p1", "pgbouncerImage",
        "PgBouncer sidecar image (pin a digest in production).",
    )
    log_level: str = setting("INFO", "logLevel", "Log level of the app.", choices=LOG_LEVELS)
    upstream_sanctions_url: str = setting(
        "https://sanctions.example.com/v1/screen", "upstreamSanctionsUrl",
        "Third-party sanctions screening endpoint.",
    )
    upstream_fraud_url: str = setting(
        "https://fraud.example.com/v1/score", "upstreamFraudUrl",
        "Third-party fraud scoring endpoint.",
    )
    upstream_address_url: str = setting(
        "https://address.example.com/v1/validate", "upstreamAddressUrl",
        "Third-party address validation endpoint.",
    )
    queue_default: QueueSettings = section(QueueSettings, "workerDefault", "default queue")
    queue_priority: QueueSettings = section(QueueSettings, "workerPriority", "priority queue")
    queue_low: QueueSettings = section(QueueSettings, "workerLow", "low queue")

    @property
    def queues(self) -> dict[str, QueueSettings]:
        """The Celery queues by name, in the order the app declares them."""
        return {
            "default": self.queue_default,
            "priority": self.queue_priority,
            "low": self.queue_low,
        }


@dataclass(frozen=True)
class ImageSettings:
    """The app image and its ECR repository."""

    tag: str = setting(
        "", "imageTag",
        "Tag of the app image to deploy: the commit sha CI pushed. Unset: the first `pulumi up` "
        "creates everything but the workloads and prints the push command. Tags mutable by "
        "name (latest, main, stable, ...) are refused: the repository is IMMUTABLE.",
        kind="image-tag",
    )
    digest: str = setting(
        "", "imageDigest",
        "Digest of the app image (sha256:<64 hex>); when set the workloads pull by digest "
        "(with imageTag, or alone).",
        kind="image-digest",
    )
    keep_images: int = setting(
        30, "ecrKeepImages", "Tagged images ECR keeps before expiring the oldest.",
        minimum=1, maximum=1000,
    )


@dataclass(frozen=True)
class UploadsSettings:
    """The uploads bucket (users' files, written by presigned POSTs) and its lifecycle."""

    versioning: bool = setting(
        False, "uploadsVersioning",
        "Keep every version of an uploaded object (overwrites and deletes can be undone).",
    )
    noncurrent_version_days: int = setting(
        30, "uploadsNoncurrentVersionDays",
        "Days a superseded or deleted version of an upload lives before it expires.",
        minimum=1, maximum=3650,
    )
    abort_multipart_days: int = setting(
        1, "uploadsAbortMultipartDays",
        "Days an incomplete multipart upload's parts live before S3 removes them.",
        minimum=1, maximum=365,
    )
    max_bytes: int = setting(
        10 * 1024 * 1024, "uploadsMaxBytes",
        "Largest upload the app presigns and accepts on confirmation, in bytes.",
        minimum=1, maximum=5 * 1024**3,
    )


@dataclass(frozen=True)
class Settings:
    """Everything one stack declares, validated before any resource exists."""

    tier: str = setting("dev", "tier", "Tier preset the stack starts from.", choices=TIERS)
    network: NetworkSettings = section(NetworkSettings)
    cluster: ClusterSettings = section(ClusterSettings)
    database: DatabaseSettings = section(DatabaseSettings)
    cache: CacheSettings = section(CacheSettings)
    alarms: AlarmSettings = section(AlarmSettings)
    edge: EdgeSettings = section(EdgeSettings)
    workloads: WorkloadSettings = section(WorkloadSettings)
    image: ImageSettings = section(ImageSettings)
    uploads: UploadsSettings = section(UploadsSettings)
