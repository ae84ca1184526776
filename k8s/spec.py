"""The typed input of the builders: what the stack decides (``WorkloadSpec``), what exists only
once other tiers are up (``Runtime``), and the secret values (``SecretValues``), kept apart so
that only Secret objects ever see a secret."""

from __future__ import annotations

from dataclasses import dataclass, field

APP_PORT = 8000  # uvicorn's port inside web pods; the ALB targets pod IPs on it
PGBOUNCER_PORT = 6432
POSTGRES_PORT = 5432
REDIS_PORT = 6379
METRICS_PORT = 9400  # every app pod's Prometheus endpoint (METRICS_PORT); never the app port
FLOWER_PORT = 5555
APP_UID = 10001  # the app image's USER (app_image/Dockerfile)


@dataclass(frozen=True)
class Resources:
    """Requests and limits of one container, as Kubernetes quantities."""

    cpu_request: str
    """CPU request, e.g. ``250m``."""
    cpu_limit: str
    """CPU limit, e.g. ``1``."""
    memory_request: str
    """Memory request, e.g. ``512Mi``."""
    memory_limit: str
    """Memory limit, e.g. ``512Mi``."""

    def as_k8s(self) -> dict[str, dict[str, str]]:
        """The container's ``resources`` field."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class QueueSpec:
    """One Celery worker Deployment consuming one queue."""

    name: str
    """The Celery queue, also the Redis list KEDA watches."""
    concurrency: int
    """Prefork children per pod; also the pod's PgBouncer pool size (one connection each)."""
    min_replicas: int
    """KEDA minimum (0 scales to zero)."""
    max_replicas: int
    """KEDA maximum."""
    list_length: int
    """KEDA target of queued messages per pod."""
    activation_list_length: int
    """Queued messages above which KEDA wakes the queue from zero."""
    hard_time_limit_seconds: int
    """Longest hard time limit of the queue's tasks."""
    resources: Resources
    """Requests and limits of the worker container."""


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything the stack decides about the workloads (no runtime values, no secrets)."""

    stack: str
    """The stack name, for the ``app.kubernetes.io/instance`` label."""
    namespace: str
    """Namespace of every object."""
    allowed_hosts: tuple[str, ...]
    """Host names the app answers for; the first is sent by the probes."""
    web_min_replicas: int
    """HPA minimum."""
    web_max_replicas: int
    """HPA maximum."""
    web_concurrency: int
    """uvicorn workers per web pod."""
    web_resources: Resources
    """Requests and limits of the web container."""
    hpa_cpu_percent: int
    """HPA CPU utilization target."""
    hpa_memory_percent: int
    """HPA memory utilization target."""
    scale_down_stabilization_seconds: int
    """HPA scale-down stabilization window."""
    pre_stop_sleep_seconds: int
    """preStop sleep of web pods."""
    pgbouncer_pool_size: int
    """``default_pool_size`` of each web pod's PgBouncer."""
    pgbouncer_max_client_conn: int
    """``max_client_conn`` of every PgBouncer."""
    pgbouncer_image: str
    """PgBouncer sidecar image."""
    queues: tuple[QueueSpec, ...]
    """Celery worker Deployments, one per queue."""
    replica_count: int
    """Read replicas of the database (each gets its own PgBouncer database entry)."""
    lb_cidrs: tuple[str, ...]
    """CIDRs of the load balancer's subnets: the only source admitted to web pods."""
    data_cidrs: tuple[str, ...]
    """CIDRs of the data tier's subnets: the only database and Redis destinations."""
    log_level: str = "INFO"
    """The app's log level."""
    upstreams: dict[str, str] = field(default_factory=dict)
    """Third-party endpoints by environment variable name (``UPSTREAM_*_URL``)."""
    database_name: str = "app"
    """Database on the primary and replicas."""
    database_user: str = "app"
    """Role the app (through PgBouncer) logs in as: rows only, no DDL."""
    database_migrate_user: str = "app_migrate"
    """Role the migrate Job logs in as: owns the schema."""
    database_readonly_user: str = "app_readonly"
    """Role the replicas' readers log in as: SELECT only."""
    database_master_user: str = "quintet_admin"
    """The data tier's master user: only the bootstrap Job logs in as it, to create the roles."""
    uploads_bucket: str = ""
    """S3 bucket of user uploads (the web pods' Pod Identity role reaches its ``uploads/``)."""
    uploads_region: str = ""
    """AWS region of the uploads bucket (presigned POSTs are signed for it)."""
    uploads_max_bytes: int = 10 * 1024 * 1024
    """Largest upload the app presigns and accepts."""


@dataclass(frozen=True)
class Runtime:
    """Values known only once the other tiers exist (plain strings; the component resolves them)."""

    image: str
    """The app image, registry URL and tag."""
    database_host: str
    """Writer address of the primary."""
    database_replica_hosts: tuple[str, ...]
    """Addresses of the read replicas, as many as ``WorkloadSpec.replica_count``."""
    cache_host: str
    """Primary endpoint of the cache Redis."""
    broker_host: str
    """Primary endpoint of the broker Redis."""
    target_group_arn: str
    """ARN of the ALB target group the web Service is bound to."""


@dataclass(frozen=True)
class SecretValues:
    """Secret inputs; only Secret objects are built from them."""

    database_password: str
    """Password of ``WorkloadSpec.database_user`` (the app role)."""
    cache_auth_token: str
    """AUTH token of the cache Redis (empty for none)."""
    broker_auth_token: str
    """AUTH token of the broker Redis (empty for none)."""
    django_secret_key: str
    """Django's SECRET_KEY."""
    database_migrate_password: str
    """Password of ``WorkloadSpec.database_migrate_user``."""
    database_readonly_password: str
    """Password of ``WorkloadSpec.database_readonly_user``."""
    database_master_password: str
    """Password of the master user: only in the bootstrap Job's Secret."""
    flower_basic_auth: str = ""
    """``user:password`` of Flower's basic auth (Flower refuses to start without one)."""
    sentry_dsn: str = ""
    """Sentry DSN (empty: error tracking off)."""
