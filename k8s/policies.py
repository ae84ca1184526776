"""NetworkPolicies: deny by default; web admits only the load balancer's subnets; every app pod
admits its metrics port from the monitoring namespace and may reach DNS, the data tier
(Postgres, Redis) and HTTPS, nothing else."""

from __future__ import annotations

from typing import Any

from k8s.meta import APP, metadata
from k8s.monitoring import MONITORING_NAMESPACE
from k8s.pods import selector
from k8s.spec import APP_PORT, METRICS_PORT, POSTGRES_PORT, REDIS_PORT, WorkloadSpec

ANYWHERE = "0.0.0.0/0"
POD_IDENTITY_AGENT = "169.254.170.23/32"
"""The EKS Pod Identity agent's link-local address: where the SDK gets the pod's credentials."""
POD_IDENTITY_AGENT_PORT = 80


def _policy(spec: WorkloadSpec, name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(spec, name, APP),
        "spec": body,
    }


def _ports(*numbers: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": n} for n in numbers]


def default_deny(spec: WorkloadSpec) -> dict[str, Any]:
    """Nothing in, nothing out, unless another policy allows it."""
    return _policy(spec, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def web_ingress(spec: WorkloadSpec) -> dict[str, Any]:
    """Web pods admit the app port from the load balancer's subnets only."""
    return _policy(
        spec,
        "web-ingress",
        {
            "podSelector": selector("web"),
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"ipBlock": {"cidr": cidr}} for cidr in spec.lb_cidrs],
                    "ports": _ports(APP_PORT),
                }
            ],
        },
    )


def metrics_ingress(spec: WorkloadSpec) -> dict[str, Any]:
    """Every app pod admits its metrics port from the monitoring namespace (Prometheus) only."""
    return _policy(
        spec,
        "metrics-ingress",
        {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {
                        "kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}],
                    "ports": _ports(METRICS_PORT),
                }
            ],
        },
    )


def egress(spec: WorkloadSpec) -> dict[str, Any]:
    """Every pod: DNS, Postgres and Redis in the data subnets, HTTPS anywhere, and the Pod
    Identity agent (the web pods' credentials for the uploads bucket)."""
    data = [{"ipBlock": {"cidr": cidr}} for cidr in spec.data_cidrs]
    return _policy(
        spec,
        "app-egress",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {"ports": _ports(53, protocol="UDP") + _ports(53)},
                {"to": data, "ports": _ports(POSTGRES_PORT, REDIS_PORT)},
                {"to": [{"ipBlock": {"cidr": ANYWHERE}}], "ports": _ports(443)},
                {
                    "to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}],
                    "ports": _ports(POD_IDENTITY_AGENT_PORT),
                },
            ],
        },
    )


def policies(spec: WorkloadSpec) -> list[dict[str, Any]]:
    """All NetworkPolicies. Workers, beat, Flower and the Job admit nothing but the scrape."""
    return [default_deny(spec), web_ingress(spec), metrics_ingress(spec), egress(spec)]
