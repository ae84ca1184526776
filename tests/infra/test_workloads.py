"""The workloads component under mocks: every builder object becomes a resource on the cluster's
provider, secrets stay secret, and the Deployments wait for the migrations Job."""

from __future__ import annotations

import functools

import pulumi
import pulumi_kubernetes as kubernetes
import pytest

from components.workloads import Workloads, WorkloadsArgs
from k8s.build import build_objects
from offline.mocks import ProgramRun, mask_secrets, run_program, unwrap_secrets
from offline.stack_files import read_stack_config
from stacks.image import OFFLINE_IMAGE_TAG
from stacks.settings import load_settings
from stacks.workloads import render_runtime, render_secrets, workload_spec

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
SECRET = "kubernetes:core/v1:Secret"
PASSWORD = "db-password-never-plain"
MASTER_PASSWORD = "master-password-bootstrap-only"
MIGRATE_PASSWORD = "migrate-password-jobs-only"


@functools.cache
def workloads_run(stack: str) -> ProgramRun:
    """The component alone, on a mocked provider, with the stack's settings."""
    config = read_stack_config(stack)
    settings = load_settings(config.values, config.secret_keys)
    spec = workload_spec(settings, stack, region="eu-west-2")

    def program() -> None:
        provider = kubernetes.Provider("k8s", kubeconfig="{}")
        Workloads(
            "workloads",
            WorkloadsArgs(
                spec=spec,
                provider=provider,
                image="123456789012.dkr.ecr.eu-west-2.amazonaws.com/quintet:abc123",
                database_host="primary.db",
                database_replica_hosts=[f"replica-{i}.db" for i in range(spec.replica_count)],
                cache_host="cache.redis",
                broker_host="broker.redis",
                target_group_arn="arn:aws:elasticloadbalancing:eu-west-2:1:targetgroup/web/1",
                database_password=pulumi.Output.secret(PASSWORD),
                cache_auth_token=pulumi.Output.secret("cache-token"),
                broker_auth_token=pulumi.Output.secret("broker-token"),
                django_secret_key=pulumi.Output.secret("k" * 60),
                database_migrate_password=pulumi.Output.secret(MIGRATE_PASSWORD),
                database_readonly_password=pulumi.Output.secret("readonly-password"),
                database_master_password=pulumi.Output.secret(MASTER_PASSWORD),
            ),
        )

    return run_program(program, stack=stack, config=config.values,
                       secret_keys=config.secret_keys)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_builder_object_is_a_resource_on_the_provider(stack: str) -> None:
    run = workloads_run(stack)
    config = read_stack_config(stack)
    settings = load_settings(config.values, config.secret_keys)
    expected = build_objects(
        workload_spec(settings, stack, region="eu-west-2"), render_runtime(settings, stack, "x"),
        render_secrets(),
    )
    provider = run.named("k8s")
    kube = [r for r in run.resources if r.type.startswith("kubernetes:") and r.custom
            and not r.type.startswith("pulumi:providers")]
    assert len(kube) == len(expected)
    assert sorted(r.type.split(":")[-1] for r in kube) == sorted(o["kind"] for o in expected)
    component = run.named("workloads")
    for r in kube:
        assert r.provider == provider.urn, r.urn
        assert r.parent == component.urn, r.urn


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_deployments_depend_on_the_migrations_job(stack: str) -> None:
    run = workloads_run(stack)
    job = run.named("workloads-job-migrate")
    deployments = run.of_type(DEPLOYMENT)
    assert len(deployments) == 7  # web, three queues, beat, the outbox relay, flower
    for deployment in deployments:
        assert job.urn in deployment.dependencies, deployment.urn
    assert job.inputs["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_web_pods_are_created_after_their_target_group_binding(stack: str) -> None:
    # The controller's webhook gates only pods created while a binding selects them: a web pod
    # created first would join the ALB ungated, and its rollout could leave no healthy target.
    run = workloads_run(stack)
    (binding,) = run.of_type("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding")
    web = next(d for d in run.of_type(DEPLOYMENT) if d.inputs["metadata"]["name"] == "web")
    assert binding.urn in web.dependencies


def test_job_depends_on_its_config_and_secrets() -> None:
    run = workloads_run("dev")
    job = run.named("workloads-job-migrate")
    needed = [r.urn for r in run.of_type(SECRET)] + [
        r.urn for r in run.of_type("kubernetes:core/v1:ConfigMap")
    ]
    assert needed and set(needed) <= set(job.dependencies)


def test_bodies_reach_the_engine_with_runtime_values_and_camel_case_keys() -> None:
    run = workloads_run("prod")
    web = run.named("workloads-deployment-web")
    template = web.inputs["spec"]["template"]["spec"]
    app = template["containers"][0]
    assert app["image"] == "123456789012.dkr.ecr.eu-west-2.amazonaws.com/quintet:abc123"
    assert template["initContainers"][0]["restartPolicy"] == "Always"
    assert "replicas" not in web.inputs["spec"]
    binding = run.named("workloads-targetgroupbinding-web")
    assert binding.type == "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"
    assert binding.inputs["spec"]["targetGroupARN"].endswith("targetgroup/web/1")
    ini = run.named("workloads-configmap-pgbouncer-web").inputs["data"]["pgbouncer.ini"]
    assert "app_replica_1 = host=replica-1.db" in ini


def test_secrets_are_secret_and_nothing_else_is() -> None:
    run = workloads_run("prod")
    secrets = run.of_type(SECRET)
    assert len(secrets) == 6
    for secret in secrets:
        assert mask_secrets(secret.inputs)["stringData"] == "[secret]", secret.urn
    for r in run.resources:
        if r.type != SECRET:
            assert PASSWORD not in repr(r.inputs), r.urn
            assert "[secret]" not in repr(mask_secrets(r.inputs)), r.urn


def _secret_data(run: ProgramRun, name: str) -> dict[str, str]:
    return unwrap_secrets(run.named(f"workloads-secret-{name}").inputs)["stringData"]


def test_the_apps_secret_carries_the_app_role_and_only_the_bootstrap_gets_the_master() -> None:
    run = workloads_run("prod")
    app = _secret_data(run, "app-env")
    assert app["DATABASE_URL"].startswith(f"postgres://app:{PASSWORD}@127.0.0.1:6432/")
    assert all(u.startswith("postgres://app_readonly:")
               for u in app["DATABASE_REPLICA_URLS"].split(","))
    holders = {r.name for r in run.of_type(SECRET)
               if MASTER_PASSWORD in repr(unwrap_secrets(r.inputs))}
    assert holders == {"workloads-secret-bootstrap-env"}
    migrate_holders = {r.name for r in run.of_type(SECRET)
                       if MIGRATE_PASSWORD in repr(unwrap_secrets(r.inputs))}
    assert migrate_holders == {"workloads-secret-bootstrap-env", "workloads-secret-migrate-env",
                               "workloads-secret-pgbouncer-auth-migrate"}
    # Which pods mount which Secret: the master only in the bootstrap Job.
    for r in run.of_type(DEPLOYMENT) + run.of_type(JOB):
        pod = r.inputs["spec"]["template"]["spec"]
        refs = {e["secretRef"]["name"] for c in pod["containers"] for e in c["envFrom"]
                if "secretRef" in e}
        wanted = {"workloads-job-db-bootstrap": {"app-env", "bootstrap-env"},
                  "workloads-job-migrate": {"app-env", "migrate-env"}}.get(r.name, {"app-env"})
        assert refs == wanted, r.name


def test_the_bootstrap_job_runs_before_the_migrations() -> None:
    run = workloads_run("dev")
    bootstrap, migrate = run.named("workloads-job-db-bootstrap"), run.named("workloads-job-migrate")
    assert bootstrap.urn in migrate.dependencies
    assert bootstrap.inputs["spec"]["template"]["spec"]["containers"][0]["args"] == ["bootstrap"]


def test_wrong_replica_host_count_is_refused() -> None:
    config = read_stack_config("prod")
    settings = load_settings(config.values, config.secret_keys)
    spec = workload_spec(settings, "prod", region="eu-west-2")

    def program() -> None:
        Workloads("w", WorkloadsArgs(spec, kubernetes.Provider("k8s"), "img", "db", ["only-one"],
                                     "c", "b", "arn", "p", "t", "t", "k", "m", "r", "x"))

    with pytest.raises(Exception, match="1 replica hosts for 2 replicas"):
        run_program(program, stack="prod", config=config.values, secret_keys=[])


def test_reference_stack_deploys_the_workloads_on_the_clusters_provider(stack_run) -> None:
    run = stack_run("prod")
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    kube = [r for r in run.resources if r.name.startswith("workloads-")]
    # 7 Deployments (the relay and Flower too), 2 Jobs (bootstrap, migrate), 11 ConfigMaps (the
    # RDS CA bundle, 2 dashboards), 6 Secrets, 25 others (4 PodMonitors and a PrometheusRule).
    assert len(kube) == 51
    assert all(r.provider == provider.urn for r in kube)
    namespace = run.named("workloads-namespace-quintet")
    keda = run.named("cluster-software-keda")
    controller = run.named("cluster-software-aws-load-balancer-controller")
    assert keda.urn in namespace.dependencies and controller.urn in namespace.dependencies
    # The PodMonitor and PrometheusRule CRDs come with kube-prometheus-stack.
    assert run.named("cluster-software-kube-prometheus-stack").urn in namespace.dependencies
    web = run.named("workloads-deployment-web")
    app = web.inputs["spec"]["template"]["spec"]["containers"][0]
    assert app["image"].endswith(f".amazonaws.com/quintet-prod:{OFFLINE_IMAGE_TAG}"), app["image"]
    assert run.named("workloads-job-migrate").urn in web.dependencies
    binding = run.named("workloads-targetgroupbinding-web")
    (target_group,) = run.of_type("aws:lb/targetGroup:TargetGroup")
    assert binding.inputs["spec"]["targetGroupARN"] == target_group.outputs["arn"]


def test_reference_stack_keeps_database_and_redis_credentials_in_secrets(stack_run) -> None:
    run = stack_run("prod")
    env = run.named("workloads-secret-app-env")
    assert mask_secrets(env.inputs)["stringData"] == "[secret]"
    for r in run.resources:
        if r.type != SECRET:
            assert "mock-db-password" not in repr(r.inputs), r.urn
