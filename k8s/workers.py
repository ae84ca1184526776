"""Celery: one worker Deployment per queue scaled by KEDA on the broker list, and one beat."""

from __future__ import annotations

from typing import Any

from k8s import pgbouncer
from k8s.meta import BROKER_AUTH_SECRET, BROKER_TRIGGER_AUTH, metadata
from k8s.monitoring import metrics_port
from k8s.pods import app_container, pod_template, selector, worker_placement
from k8s.spec import METRICS_PORT, REDIS_PORT, QueueSpec, Resources, Runtime, WorkloadSpec

WORKER_SERVICE_ACCOUNT = "worker"
BEAT_SERVICE_ACCOUNT = "beat"
# The worker health check the app provides (app_image/config/worker_health.py): exit 0 while
# the worker's heartbeat file is fresh. Stdlib only, so a probe does not load Django or Celery.
WORKER_HEALTH_COMMAND = ["python", "-m", "config.worker_health"]
# After SIGTERM Celery stops taking tasks and waits for the running ones: give the longest one
# its whole hard limit plus time to ack and exit.
WORKER_GRACE_MARGIN_SECONDS = 30
BEAT_RESOURCES = Resources("50m", "250m", "192Mi", "192Mi")


def worker_name(queue: QueueSpec) -> str:
    """The Deployment (and workload group) of one queue."""
    return f"worker-{queue.name}"


def heartbeat_probe(**timing: int) -> dict[str, Any]:
    """Fails when the worker's heartbeat is missing or stale (the app's own check)."""
    return {"exec": {"command": list(WORKER_HEALTH_COMMAND)}, "timeoutSeconds": 5, **timing}


def worker_deployment(
    spec: WorkloadSpec, queue: QueueSpec, runtime: Runtime, config_hash: str
) -> dict[str, Any]:
    """One queue's workers, with their own PgBouncer; no ``replicas``: KEDA owns the count."""
    name = worker_name(queue)
    app = app_container(
        "worker",
        runtime.image,
        ["worker", queue.name],
        queue.resources,
        env=[{"name": "CELERY_WORKER_CONCURRENCY", "value": str(queue.concurrency)}],
        ports=[metrics_port(METRICS_PORT)],
        startupProbe=heartbeat_probe(periodSeconds=5, failureThreshold=24),
        readinessProbe=heartbeat_probe(periodSeconds=15),
        livenessProbe=heartbeat_probe(periodSeconds=30, failureThreshold=3),
    )
    template = pod_template(
        spec,
        name,
        service_account=WORKER_SERVICE_ACCOUNT,
        containers=[app],
        init_containers=[pgbouncer.sidecar(spec)],
        volumes=pgbouncer.volumes(name),
        annotations={"quintet.io/config-hash": config_hash},
        terminationGracePeriodSeconds=queue.hard_time_limit_seconds + WORKER_GRACE_MARGIN_SECONDS,
        **worker_placement(),
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, name, name),
        "spec": {"selector": selector(name), "template": template},
    }


def trigger_authentication(spec: WorkloadSpec) -> dict[str, Any]:
    """KEDA's credentials for the broker, from the broker-auth Secret."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": metadata(spec, BROKER_TRIGGER_AUTH, "keda"),
        "spec": {
            "secretTargetRef": [
                {"parameter": "password", "name": BROKER_AUTH_SECRET, "key": "password"}
            ]
        },
    }


def scaled_object(spec: WorkloadSpec, queue: QueueSpec, runtime: Runtime) -> dict[str, Any]:
    """Scales one queue's workers on the length of its Redis list.

    KEDA's Redis list scaler sees queued messages only (LLEN), not reserved or running ones:
    ``list_length`` is a target of waiting work per pod, not of work in progress.
    """
    name = worker_name(queue)
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata(spec, name, name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicaCount": queue.min_replicas,
            "maxReplicaCount": queue.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "triggers": [
                {
                    "type": "redis",
                    "metadata": {
                        "address": f"{runtime.broker_host}:{REDIS_PORT}",
                        "listName": queue.name,
                        "listLength": str(queue.list_length),
                        "activationListLength": str(queue.activation_list_length),
                        "databaseIndex": "0",
                        "enableTLS": "true",
                    },
                    "authenticationRef": {"name": BROKER_TRIGGER_AUTH},
                }
            ],
        },
    }


def beat_deployment(spec: WorkloadSpec, runtime: Runtime, config_hash: str) -> dict[str, Any]:
    """Celery beat: exactly one replica, Recreate so two never overlap in a rollout.

    Every probe reads the heartbeat beat's scheduler touches on every tick (at most 5 s apart),
    the same command as the workers'. Nothing routes traffic to beat, so readiness is what
    ``kubectl get``, rollouts and scanners read: Ready means the scheduler is ticking now.
    """
    app = app_container(
        "beat", runtime.image, ["beat"], BEAT_RESOURCES, ports=[metrics_port(METRICS_PORT)],
        startupProbe=heartbeat_probe(periodSeconds=5, failureThreshold=24),
        readinessProbe=heartbeat_probe(periodSeconds=15),
        livenessProbe=heartbeat_probe(periodSeconds=30, failureThreshold=3),
    )
    template = pod_template(
        spec,
        "beat",
        service_account=BEAT_SERVICE_ACCOUNT,
        containers=[app],
        init_containers=[pgbouncer.sidecar(spec)],
        volumes=pgbouncer.volumes("beat"),
        annotations={"quintet.io/config-hash": config_hash},
        terminationGracePeriodSeconds=30,
        **worker_placement(),
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, "beat", "beat"),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": selector("beat"),
            "template": template,
        },
    }
