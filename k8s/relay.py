"""The outbox relay (process type ``relay``): one replica publishing committed task messages.

The relay claims rows with ``FOR UPDATE SKIP LOCKED``, so two replicas (a rollout's overlap)
never publish a row twice at once; one is enough, the lag is its figure of merit.
"""

from __future__ import annotations

from typing import Any

from k8s import pgbouncer
from k8s.meta import metadata
from k8s.monitoring import metrics_port
from k8s.pods import app_container, pod_template, selector, worker_placement
from k8s.spec import METRICS_PORT, Resources, Runtime, WorkloadSpec
from k8s.workers import heartbeat_probe

RELAY_NAME = "relay"
RELAY_SERVICE_ACCOUNT = "relay"
RELAY_RESOURCES = Resources("50m", "250m", "192Mi", "192Mi")


def relay_deployment(spec: WorkloadSpec, runtime: Runtime, config_hash: str) -> dict[str, Any]:
    """The relay: one replica; liveness reads the heartbeat it touches every loop (the same
    probe command as the workers'); no readiness, since nothing routes traffic to it."""
    app = app_container(
        RELAY_NAME, runtime.image, ["relay"], RELAY_RESOURCES,
        ports=[metrics_port(METRICS_PORT)],
        startupProbe=heartbeat_probe(periodSeconds=5, failureThreshold=24),
        livenessProbe=heartbeat_probe(periodSeconds=30, failureThreshold=3),
    )
    template = pod_template(
        spec,
        RELAY_NAME,
        service_account=RELAY_SERVICE_ACCOUNT,
        containers=[app],
        init_containers=[pgbouncer.sidecar(spec)],
        volumes=pgbouncer.volumes(RELAY_NAME),
        annotations={"quintet.io/config-hash": config_hash},
        # It stops after the batch in hand (at most one publish timeout, 10 s).
        terminationGracePeriodSeconds=30,
        **worker_placement(),
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, RELAY_NAME, RELAY_NAME),
        "spec": {"replicas": 1, "selector": selector(RELAY_NAME), "template": template},
    }
