"""Names, labels and metadata shared by every object."""

from __future__ import annotations

from typing import Any

from k8s.spec import WorkloadSpec

APP = "quintet"
POOL_LABEL = "quintet.io/pool"
WORKER_TAINT = {"key": POOL_LABEL, "operator": "Equal", "value": "workers", "effect": "NoSchedule"}
ENV_CONFIGMAP = "app-env"
ENV_SECRET = "app-env"
PGBOUNCER_AUTH_SECRET = "pgbouncer-auth"
PGBOUNCER_MIGRATE_AUTH_SECRET = "pgbouncer-auth-migrate"
MIGRATE_SECRET = "migrate-env"
BOOTSTRAP_SECRET = "bootstrap-env"
BROKER_AUTH_SECRET = "broker-auth"
BROKER_TRIGGER_AUTH = "broker-auth"
RDS_CA_CONFIGMAP = "rds-ca-bundle"
RDS_CA_DIR = "/etc/pgbouncer-ca"
RDS_CA_KEY = "rds-ca-bundle.pem"
RDS_CA_FILE = f"{RDS_CA_DIR}/{RDS_CA_KEY}"  # PgBouncer's and the bootstrap Job's trust anchor
READINESS_GATE_LABEL = "elbv2.k8s.aws/pod-readiness-gate-inject"
"""On the namespace, the AWS Load Balancer Controller's webhook injects a target-health readiness
gate into pods created behind a TargetGroupBinding; on a pod template, the chart's webhook
object selector picks the pod (components.cluster_software sets it)."""
READINESS_GATE_ON = {READINESS_GATE_LABEL: "enabled"}


def selector_labels(component: str) -> dict[str, str]:
    """Labels that select one workload's pods (stable: a Deployment's selector is immutable)."""
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": component}


def labels(spec: WorkloadSpec, component: str) -> dict[str, str]:
    """Every object's labels: the selector labels plus instance and part-of."""
    return {
        **selector_labels(component),
        "app.kubernetes.io/instance": spec.stack,
        "app.kubernetes.io/part-of": APP,
    }


def metadata(spec: WorkloadSpec, name: str, component: str, **extra: Any) -> dict[str, Any]:
    """``metadata`` of a namespaced object."""
    return {"name": name, "namespace": spec.namespace, "labels": labels(spec, component), **extra}
