"""Pieces every pod shares: security contexts, the app container, the pod template."""

from __future__ import annotations

from typing import Any

from k8s.meta import ENV_CONFIGMAP, ENV_SECRET, POOL_LABEL, WORKER_TAINT, labels, selector_labels
from k8s.spec import APP_UID, Resources, WorkloadSpec

# The image's ENTRYPOINT is entrypoint.sh; containers pass only the process type as args.
PROCESS_TYPES = ("web", "worker", "beat", "relay", "flower", "bootstrap", "migrate", "check")


def container_security_context() -> dict[str, Any]:
    """Non-root, read-only root filesystem, no privilege escalation, no capabilities."""
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> dict[str, Any]:
    """Runs every container as the app image's user; seccomp RuntimeDefault for the pod."""
    return {
        "runAsNonRoot": True,
        "runAsUser": APP_UID,
        "runAsGroup": APP_UID,
        "fsGroup": APP_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def app_container(
    name: str,
    image: str,
    args: list[str],
    resources: Resources,
    *,
    extra_secrets: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The app image running one process type, with the environment contract and a writable /tmp
    (``extra_secrets``: Secrets only this container gets, after the app's)."""
    if args[0] not in PROCESS_TYPES:
        raise ValueError(f"unknown process type {args[0]!r}; the image has {PROCESS_TYPES}")
    return {
        "name": name,
        "image": image,
        "args": args,
        "envFrom": [
            {"configMapRef": {"name": ENV_CONFIGMAP}},
            {"secretRef": {"name": ENV_SECRET}},
            *({"secretRef": {"name": secret}} for secret in extra_secrets),
        ],
        "resources": resources.as_k8s(),
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        **extra,
    }


def worker_placement() -> dict[str, Any]:
    """Scheduling onto the tainted worker pool."""
    return {"nodeSelector": {POOL_LABEL: "workers"}, "tolerations": [dict(WORKER_TAINT)]}


def pod_template(
    spec: WorkloadSpec,
    component: str,
    *,
    service_account: str,
    containers: list[dict[str, Any]],
    init_containers: list[dict[str, Any]],
    volumes: list[dict[str, Any]],
    annotations: dict[str, str],
    extra_labels: dict[str, str] | None = None,
    **pod: Any,
) -> dict[str, Any]:
    """A pod template: labels, security context, service account, containers and volumes."""
    return {
        "metadata": {
            "labels": {**labels(spec, component), **(extra_labels or {})},
            "annotations": annotations,
        },
        "spec": {
            "serviceAccountName": service_account,
            "automountServiceAccountToken": False,
            "securityContext": pod_security_context(),
            "initContainers": init_containers,
            "containers": containers,
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}, *volumes],
            **pod,
        },
    }


def selector(component: str) -> dict[str, Any]:
    """A ``selector`` of one workload's pods."""
    return {"matchLabels": selector_labels(component)}
