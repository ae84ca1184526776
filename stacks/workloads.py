"""From a stack's settings to the workload builders' input, and the placeholders ``make render``
writes where the deployed objects carry runtime values and secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.subnets import plan_subnets
from k8s.spec import QueueSpec, Resources, Runtime, SecretValues, WorkloadSpec
from stacks.image import OFFLINE_IMAGE_TAG, image_reference
from stacks.settings import Settings

if TYPE_CHECKING:
    from components.registry import Registry
    from components.workloads import Workloads
    from stacks.compute_edge import ComputeEdge
    from stacks.data_tier import DataTier

RENDER_SECRET = "SET-AT-DEPLOY-TIME"


def _subnet_cidrs(settings: Settings, tier: str) -> tuple[str, ...]:
    net = settings.network
    plans = plan_subnets(net.cidr, net.az_count, net.subnet_prefixes)
    return tuple(p.cidr for p in plans if p.tier == tier)


def uploads_bucket_name(stack: str) -> str:
    """The stack's uploads bucket name (S3 names are global: the stack name keeps it unique
    within the project; a clash is reported by ``pulumi up``)."""
    return f"quintet-{stack}-uploads"


def workload_spec(settings: Settings, stack: str, *, region: str) -> WorkloadSpec:
    """The builders' input for one stack in ``region``."""
    work = settings.workloads
    return WorkloadSpec(
        stack=stack,
        namespace=work.namespace,
        allowed_hosts=(settings.edge.domain,),
        web_min_replicas=work.web_min_replicas,
        web_max_replicas=work.web_max_replicas,
        web_concurrency=work.web_concurrency,
        web_resources=Resources(
            work.web_cpu_request, work.web_cpu_limit,
            work.web_memory_request, work.web_memory_limit,
        ),
        hpa_cpu_percent=work.web_hpa_cpu_percent,
        hpa_memory_percent=work.web_hpa_memory_percent,
        scale_down_stabilization_seconds=work.web_scale_down_stabilization_seconds,
        pre_stop_sleep_seconds=work.web_pre_stop_sleep_seconds,
        pgbouncer_pool_size=work.pgbouncer_pool_size,
        pgbouncer_max_client_conn=work.pgbouncer_max_client_conn,
        pgbouncer_image=work.pgbouncer_image,
        queues=tuple(
            QueueSpec(
                name=name,
                concurrency=queue.concurrency,
                min_replicas=queue.min_replicas,
                max_replicas=queue.max_replicas,
                list_length=queue.list_length,
                activation_list_length=queue.activation_list_length,
                hard_time_limit_seconds=queue.hard_time_limit_seconds,
                resources=Resources(
                    queue.cpu_request, queue.cpu_limit, queue.memory_request, queue.memory_limit
                ),
            )
            for name, queue in work.queues.items()
        ),
        replica_count=settings.database.replicas,
        lb_cidrs=_subnet_cidrs(settings, "public"),
        data_cidrs=_subnet_cidrs(settings, "isolated"),
        log_level=work.log_level,
        upstreams={
            "UPSTREAM_SANCTIONS_URL": work.upstream_sanctions_url,
            "UPSTREAM_FRAUD_URL": work.upstream_fraud_url,
            "UPSTREAM_ADDRESS_URL": work.upstream_address_url,
        },
        database_name=settings.database.name,
        # The app's pods log in as the app role; only the bootstrap Job uses the master user.
        database_master_user=settings.database.master_username,
        uploads_bucket=uploads_bucket_name(stack),
        uploads_region=region,
        uploads_max_bytes=settings.uploads.max_bytes,
    )


def render_runtime(settings: Settings, stack: str, region: str) -> Runtime:
    """Placeholder runtime values for rendering: reserved ``.invalid`` names, a zero account."""
    return Runtime(
        image=image_reference(
            f"registry.invalid/quintet-{stack}",
            settings.image.tag or (OFFLINE_IMAGE_TAG if not settings.image.digest else ""),
            settings.image.digest,
        ),
        database_host="primary.database.invalid",
        database_replica_hosts=tuple(
            f"replica-{i}.database.invalid" for i in range(settings.database.replicas)
        ),
        cache_host="cache.redis.invalid",
        broker_host="broker.redis.invalid",
        target_group_arn=(
            f"arn:aws:elasticloadbalancing:{region}:000000000000:"
            f"targetgroup/quintet-{stack}-web/0000000000000000"
        ),
    )


def render_secrets() -> SecretValues:
    """Placeholders for every secret: rendered YAML never holds a real one."""
    return SecretValues(
        database_password=RENDER_SECRET,
        cache_auth_token=RENDER_SECRET,
        broker_auth_token=RENDER_SECRET,
        django_secret_key=RENDER_SECRET,
        database_migrate_password=RENDER_SECRET,
        database_readonly_password=RENDER_SECRET,
        database_master_password=RENDER_SECRET,
        flower_basic_auth=RENDER_SECRET,
        sentry_dsn=RENDER_SECRET,
    )


def build_workloads_tier(
    settings: Settings,
    *,
    stack: str,
    registry: Registry,
    data: DataTier,
    compute: ComputeEdge,
    region: str,
) -> Workloads:
    """Deploys the workloads on the cluster, fed from the registry, data tier and load balancer."""
    import pulumi_random as random

    from components.workloads import Workloads, WorkloadsArgs

    database, cache = data.database, data.cache
    spec = workload_spec(settings, stack, region=region)
    secret_key = random.RandomPassword("django-secret-key", length=64, special=False)
    # One password per database role; the bootstrap Job creates the roles with them.
    role_passwords = {
        role: random.RandomPassword(f"database-{role}-password", length=40, special=False).result
        for role in ("app", "migrate", "readonly")
    }
    flower_password = random.RandomPassword("flower-password", length=32, special=False)
    replicas = database.replica_addresses
    return Workloads(
        "workloads",
        WorkloadsArgs(
            spec=spec,
            provider=compute.cluster.kubernetes_provider,
            image=registry.repository_url.apply(
                lambda url: image_reference(url, settings.image.tag, settings.image.digest)
            ),
            database_host=database.writer_address,
            database_replica_hosts=[
                replicas.apply(lambda hosts, i=i: hosts[i]) for i in range(spec.replica_count)
            ],
            cache_host=cache.cache_primary_endpoint,
            broker_host=cache.broker_primary_endpoint,
            target_group_arn=compute.load_balancer.target_group_arn,
            database_password=role_passwords["app"],
            cache_auth_token=cache.cache_auth_token,
            broker_auth_token=cache.broker_auth_token,
            django_secret_key=secret_key.result,
            database_migrate_password=role_passwords["migrate"],
            database_readonly_password=role_passwords["readonly"],
            database_master_password=database.master_password,
            flower_basic_auth=flower_password.result.apply(lambda p: f"admin:{p}"),
            depends_on=[compute.software],
        ),
    )
