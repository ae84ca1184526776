"""The web tier: Deployment (app + PgBouncer sidecar), Service, TargetGroupBinding, HPA, PDB."""

from __future__ import annotations

from typing import Any

from k8s import pgbouncer
from k8s.meta import POOL_LABEL, READINESS_GATE_ON, metadata
from k8s.monitoring import metrics_port
from k8s.pods import app_container, pod_template, selector
from k8s.spec import APP_PORT, METRICS_PORT, Runtime, WorkloadSpec

COMPONENT = "web"
SERVICE_ACCOUNT = "web"
SERVICE_PORT = 80
# uvicorn's --timeout-graceful-shutdown in app_image/entrypoint.sh: how long in-flight requests
# may take to finish after SIGTERM. A contract test reads the entrypoint to keep them equal.
DRAIN_SECONDS = 25
GRACE_MARGIN_SECONDS = 5
READINESS_PATH = "/readyz"
LIVENESS_PATH = "/livez"


def termination_grace_seconds(spec: WorkloadSpec) -> int:
    """Longer than the preStop sleep plus uvicorn's drain, so SIGKILL never cuts a request."""
    return spec.pre_stop_sleep_seconds + DRAIN_SECONDS + GRACE_MARGIN_SECONDS


def _probe(spec: WorkloadSpec, path: str, **timing: int) -> dict[str, Any]:
    # Django checks the Host header against ALLOWED_HOSTS; the kubelet would send the pod IP.
    host = spec.allowed_hosts[0]
    get = {"path": path, "port": "http", "httpHeaders": [{"name": "Host", "value": host}]}
    return {"httpGet": get, "timeoutSeconds": 2, **timing}


def deployment(spec: WorkloadSpec, runtime: Runtime, config_hash: str) -> dict[str, Any]:
    """The web Deployment; no ``replicas``: the HPA owns the count."""
    app = app_container(
        "app",
        runtime.image,
        ["web"],
        spec.web_resources,
        ports=[{"name": "http", "containerPort": APP_PORT}, metrics_port(METRICS_PORT)],
        # Startup and readiness: this pod can serve (its sidecar answers, it is warmed); never
        # the shared dependencies, whose blip would take every pod out at once.
        startupProbe=_probe(spec, READINESS_PATH, periodSeconds=2, failureThreshold=30),
        readinessProbe=_probe(spec, READINESS_PATH, periodSeconds=5, failureThreshold=2),
        livenessProbe=_probe(spec, LIVENESS_PATH, periodSeconds=10, failureThreshold=3),
        # The ALB keeps routing to a terminating pod until deregistration propagates: keep
        # serving for a while before SIGTERM reaches uvicorn.
        lifecycle={"preStop": {"sleep": {"seconds": spec.pre_stop_sleep_seconds}}},
    )
    template = pod_template(
        spec,
        COMPONENT,
        service_account=SERVICE_ACCOUNT,
        containers=[app],
        init_containers=[pgbouncer.sidecar(spec)],
        volumes=pgbouncer.volumes(COMPONENT),
        annotations={"quintet.io/config-hash": config_hash},
        extra_labels=READINESS_GATE_ON,  # behind the TargetGroupBinding: gated on target health
        nodeSelector={POOL_LABEL: "web"},
        terminationGracePeriodSeconds=termination_grace_seconds(spec),
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": key,
                # ScheduleAnyway: losing a zone must not leave replacement pods Pending.
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": selector(COMPONENT),
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ],
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, "web", COMPONENT),
        "spec": {
            "selector": selector(COMPONENT),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            },
            "template": template,
        },
    }


def service(spec: WorkloadSpec) -> dict[str, Any]:
    """ClusterIP Service the TargetGroupBinding points at (the ALB targets pod IPs directly)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, "web", COMPONENT),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(COMPONENT)["matchLabels"],
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http",
                       "protocol": "TCP"}],
        },
    }


def target_group_binding(spec: WorkloadSpec, runtime: Runtime) -> dict[str, Any]:
    """Registers the web pods' IPs in the ALB target group Pulumi owns (compute tier)."""
    return {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": metadata(spec, "web", COMPONENT),
        "spec": {
            "serviceRef": {"name": "web", "port": SERVICE_PORT},
            "targetGroupARN": runtime.target_group_arn,
            "targetType": "ip",
        },
    }


def hpa(spec: WorkloadSpec) -> dict[str, Any]:
    """CPU and memory autoscaling between the stack's min and max, scaling down slowly."""
    def utilization(resource: str, percent: int) -> dict[str, Any]:
        return {
            "type": "Resource",
            "resource": {
                "name": resource,
                "target": {"type": "Utilization", "averageUtilization": percent},
            },
        }

    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(spec, "web", COMPONENT),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": spec.web_min_replicas,
            "maxReplicas": spec.web_max_replicas,
            "metrics": [
                utilization("cpu", spec.hpa_cpu_percent),
                utilization("memory", spec.hpa_memory_percent),
            ],
            "behavior": {
                # At most one pod a minute: each removal is a termination the ALB must drain.
                "scaleDown": {
                    "stabilizationWindowSeconds": spec.scale_down_stabilization_seconds,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                },
            },
        },
    }


def pdb(spec: WorkloadSpec) -> dict[str, Any]:
    """At most one web pod disrupted at a time: a drain always proceeds, one pod at a time,
    even at the HPA's minimum (``minAvailable`` equal to the minimum would block it)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(spec, "web", COMPONENT),
        "spec": {"maxUnavailable": 1, "selector": selector(COMPONENT)},
    }
