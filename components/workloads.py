"""The workloads tier: the objects the ``k8s`` builders describe, deployed with pulumi-kubernetes
on the cluster's provider, migrations first.

The builders are pure functions of plain strings; here the strings are Pulumi outputs (the image
URL, endpoints, the target group ARN, secrets). Names and kinds never depend on them, so the
resource list is taken from a build with blank runtime values, and each resource's body from a
build inside ``apply`` once the outputs resolve. Secrets are built in a separate ``apply`` so
that only the Secret objects are marked secret, never the Deployments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from k8s.build import build_objects, object_key
from k8s.migrate import BOOTSTRAP_JOB_NAME, JOB_NAME
from k8s.spec import Runtime, SecretValues, WorkloadSpec

_BLANK_SECRETS = SecretValues("", "", "", "", "", "", "")

# Typed resource classes by (apiVersion, kind); anything else (KEDA, the AWS Load Balancer
# Controller's TargetGroupBinding) is a CustomResource.
KINDS: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
}
# Order of creation: each phase waits for the previous one. The bootstrap Job creates the
# database roles, the migrate Job runs the migrations as the owner role; the Deployments roll
# only once both have completed (pulumi-kubernetes awaits a Job's completion). The
# TargetGroupBinding exists before the web pods: the load balancer controller injects its
# readiness gate only into pods created while a binding selects them. An entry is a kind, or
# ``Kind/name`` for one object that must come before the others of its kind.
PHASES: tuple[tuple[str, ...], ...] = (
    ("Namespace",),
    ("ServiceAccount", "ConfigMap", "Secret", "NetworkPolicy", "TriggerAuthentication",
     "Service"),
    (f"Job/{BOOTSTRAP_JOB_NAME}",),
    ("Job", "TargetGroupBinding"),
    ("Deployment",),
    ("HorizontalPodAutoscaler", "PodDisruptionBudget", "ScaledObject", "PodMonitor",
     "PrometheusRule"),
)
# Top-level fields of an object that are not metadata, as the SDK names its arguments.
_FIELDS = {
    "spec": "spec",
    "data": "data",
    "stringData": "string_data",
    "type": "type",
    "automountServiceAccountToken": "automount_service_account_token",
}


@dataclass(frozen=True)
class WorkloadsArgs:
    """Inputs of the workloads tier."""

    spec: WorkloadSpec
    """What the stack decides: replicas, queues, pools, resources (from the settings)."""
    provider: pulumi.ProviderResource
    """The cluster's Kubernetes provider."""
    image: pulumi.Input[str]
    """The app image: registry URL and tag."""
    database_host: pulumi.Input[str]
    """Writer address of the primary."""
    database_replica_hosts: Sequence[pulumi.Input[str]]
    """Addresses of the read replicas, ``spec.replica_count`` of them."""
    cache_host: pulumi.Input[str]
    """Primary endpoint of the cache Redis."""
    broker_host: pulumi.Input[str]
    """Primary endpoint of the broker Redis."""
    target_group_arn: pulumi.Input[str]
    """The ALB target group the web pods join."""
    database_password: pulumi.Input[str]
    """Password of the app's database role (a secret): the only one the app's pods get."""
    cache_auth_token: pulumi.Input[str]
    """AUTH token of the cache Redis (a secret; empty for none)."""
    broker_auth_token: pulumi.Input[str]
    """AUTH token of the broker Redis (a secret; empty for none)."""
    django_secret_key: pulumi.Input[str]
    """Django's SECRET_KEY (a secret)."""
    database_migrate_password: pulumi.Input[str]
    """Password of the migrations role (a secret): only the migrate and bootstrap Jobs get it."""
    database_readonly_password: pulumi.Input[str]
    """Password of the replicas' read-only role (a secret)."""
    database_master_password: pulumi.Input[str]
    """The data tier's master password (a secret): only the bootstrap Job gets it."""
    flower_basic_auth: pulumi.Input[str] = ""
    """``user:password`` Flower asks for (a secret; Flower refuses to start without one)."""
    sentry_dsn: pulumi.Input[str] = ""
    """Sentry DSN (a secret; empty turns error tracking off)."""
    depends_on: Sequence[pulumi.Resource] = ()
    """What must exist first: node pools and the controllers whose CRDs the objects use
    (KEDA, the AWS Load Balancer Controller). Every object waits for them through the namespace."""


def job_await(obj: dict[str, Any]) -> pulumi.CustomTimeouts | None:
    """Pulumi waits for a Job exactly as long as Kubernetes lets it run
    (``activeDeadlineSeconds``): not the provider's default 10 minutes, which gives up on a
    migration Kubernetes would still finish, nor longer, which waits on a Job already failed."""
    if obj["kind"] != "Job":
        return None
    deadline = obj["spec"]["activeDeadlineSeconds"]
    return pulumi.CustomTimeouts(create=f"{deadline}s", update=f"{deadline}s")


def _phase(obj: dict[str, Any]) -> int:
    kind = obj["kind"]
    for wanted in (f"{kind}/{obj['metadata']['name']}", kind):
        for index, kinds in enumerate(PHASES):
            if wanted in kinds:
                return index
    raise ValueError(f"no creation phase for kind {kind}")


class Workloads(pulumi.ComponentResource):
    """Creates: the namespace, service accounts, the environment ConfigMap and Secrets, PgBouncer
    configs, the database roles' bootstrap Job, the migrations Job, the web Deployment with its
    Service, TargetGroupBinding, HPA and PDB, a Celery worker Deployment and KEDA ScaledObject
    per queue, beat, the outbox relay, and the NetworkPolicies; all on ``args.provider``."""

    namespace: str
    migrations_job_name: str
    resources_by_key: dict[str, pulumi.CustomResource]
    service_account_names: list[str]

    def __init__(
        self, name: str, args: WorkloadsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("quintet:workloads:Workloads", name, None, opts)
        spec = args.spec
        if len(args.database_replica_hosts) != spec.replica_count:
            raise ValueError(
                f"{len(args.database_replica_hosts)} replica hosts for {spec.replica_count} "
                "replicas"
            )
        blank = Runtime("", "", ("",) * spec.replica_count, "", "", "")
        shape = build_objects(spec, blank, _BLANK_SECRETS)

        runtime = pulumi.Output.all(
            args.image,
            args.database_host,
            pulumi.Output.all(*args.database_replica_hosts),
            args.cache_host,
            args.broker_host,
            args.target_group_arn,
        ).apply(lambda v: Runtime(v[0], v[1], tuple(v[2]), v[3], v[4], v[5]))
        bodies = runtime.apply(
            lambda rt: {object_key(o): o for o in build_objects(spec, rt, _BLANK_SECRETS)}
        )
        secret_bodies = pulumi.Output.secret(
            pulumi.Output.all(
                runtime,
                args.database_password,
                args.cache_auth_token,
                args.broker_auth_token,
                args.django_secret_key,
                args.database_migrate_password,
                args.database_readonly_password,
                args.database_master_password,
                args.flower_basic_auth,
                args.sentry_dsn,
            ).apply(
                lambda v: {
                    object_key(o): o
                    for o in build_objects(spec, v[0], SecretValues(*v[1:]))
                    if o["kind"] == "Secret"
                }
            )
        )

        created: dict[str, pulumi.CustomResource] = {}
        by_phase: list[list[pulumi.CustomResource]] = [[] for _ in PHASES]
        for obj in sorted(shape, key=_phase):
            key = object_key(obj)
            phase = _phase(obj)
            source = secret_bodies if obj["kind"] == "Secret" else bodies
            depends = [*args.depends_on, *(r for earlier in by_phase[:phase] for r in earlier)]
            child = pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                depends_on=depends,
                # A Job is immutable and keeps its name: replace it by deleting first, which
                # runs the new image's migrations.
                delete_before_replace=obj["kind"] == "Job",
                custom_timeouts=job_await(obj),
            )
            resource = self._declare(name, obj, key, source, child)
            created[key] = resource
            by_phase[phase].append(resource)

        self.namespace = spec.namespace
        self.migrations_job_name = next(
            o["metadata"]["name"] for o in shape
            if o["kind"] == "Job" and o["metadata"]["name"] == JOB_NAME)
        self.resources_by_key = created
        self.service_account_names = [
            o["metadata"]["name"] for o in shape if o["kind"] == "ServiceAccount"
        ]
        self.register_outputs(
            {
                "namespace": self.namespace,
                "migrations_job_name": self.migrations_job_name,
                "service_account_names": self.service_account_names,
            }
        )

    def _declare(
        self,
        name: str,
        obj: dict[str, Any],
        key: str,
        source: pulumi.Output[dict[str, Any]],
        opts: pulumi.ResourceOptions,
    ) -> pulumi.CustomResource:
        """One Kubernetes object as a resource: metadata as built, the body from ``source``."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        logical = f"{name}-{kind.lower()}-{obj['metadata']['name']}"
        fields: dict[str, Any] = {}
        for field, argument in _FIELDS.items():
            if field in obj:
                fields[argument] = source.apply(lambda b, f=field: b[key][f])
        cls = KINDS.get((api_version, kind))
        if cls is None:
            return k8s.apiextensions.CustomResource(
                logical,
                api_version=api_version,
                kind=kind,
                metadata=obj["metadata"],
                spec=fields.get("spec"),
                opts=opts,
            )
        return cls(logical, metadata=obj["metadata"], opts=opts, **fields)
