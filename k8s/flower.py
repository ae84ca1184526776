"""Flower, for queue visibility: one pod behind basic auth, with no route from outside.

No Service of type LoadBalancer, no TargetGroupBinding, no ingress NetworkPolicy: operators
reach it with `kubectl -n <namespace> port-forward svc/flower 5555` (the kubelet's stream is not
subject to NetworkPolicies) and log in with FLOWER_BASIC_AUTH from the app-env Secret.
"""

from __future__ import annotations

from typing import Any

from k8s.meta import metadata
from k8s.pods import app_container, pod_template, selector, worker_placement
from k8s.spec import FLOWER_PORT, Resources, WorkloadSpec

COMPONENT = "flower"
SERVICE_ACCOUNT = "flower"
RESOURCES = Resources("50m", "500m", "256Mi", "256Mi")


def deployment(spec: WorkloadSpec, image: str, config_hash: str) -> dict[str, Any]:
    """One Flower replica on the worker pool (it only reads the broker)."""
    tcp = {"tcpSocket": {"port": "flower"}, "periodSeconds": 10}
    app = app_container(
        "flower", image, ["flower"], RESOURCES,
        env=[{"name": "PORT", "value": str(FLOWER_PORT)}],
        ports=[{"name": "flower", "containerPort": FLOWER_PORT}],
        startupProbe={**tcp, "periodSeconds": 2, "failureThreshold": 30},
        readinessProbe=tcp, livenessProbe={**tcp, "failureThreshold": 3},
    )
    template = pod_template(
        spec, COMPONENT, service_account=SERVICE_ACCOUNT, containers=[app],
        init_containers=[], volumes=[],  # it reads the broker only: no PgBouncer
        annotations={"quintet.io/config-hash": config_hash},
        terminationGracePeriodSeconds=10, **worker_placement(),
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, COMPONENT, COMPONENT),
        "spec": {"replicas": 1, "selector": selector(COMPONENT), "template": template},
    }


def service(spec: WorkloadSpec) -> dict[str, Any]:
    """A ClusterIP Service, the target of `kubectl port-forward svc/flower`."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, COMPONENT, COMPONENT),
        "spec": {"type": "ClusterIP", "selector": selector(COMPONENT)["matchLabels"],
                 "ports": [{"name": "flower", "port": FLOWER_PORT, "targetPort": "flower",
                            "protocol": "TCP"}]},
    }
