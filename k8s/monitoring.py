"""What kube-prometheus-stack needs from the workloads: PodMonitors on every app pod's metrics
port, the PrometheusRule of k8s.alerts, and the Grafana dashboards as sidecar ConfigMaps.

PgBouncer has no exporter sidecar: the app's metrics port reads its pod's PgBouncer
(`SHOW POOLS` as a stats user) at scrape time, so the web and worker PodMonitors cover it.
"""

from __future__ import annotations

import json
from typing import Any

from k8s.alerts import rule_groups
from k8s.dashboards import dashboards
from k8s.meta import APP, metadata
from k8s.spec import WorkloadSpec

METRICS_PORT_NAME = "metrics"
SCRAPE_INTERVAL = "15s"
DASHBOARD_LABEL = "grafana_dashboard"
"""The label the chart's Grafana sidecar watches (its default)."""
MONITORING_NAMESPACE = "monitoring"


def metrics_port(number: int) -> dict[str, Any]:
    """The named container port PodMonitors scrape."""
    return {"name": METRICS_PORT_NAME, "containerPort": number}


def pod_monitor(spec: WorkloadSpec, name: str, components: list[str]) -> dict[str, Any]:
    """Scrape the metrics port of the pods of `components` every 15 s."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(spec, name, name),
        "spec": {
            "selector": {
                "matchLabels": {"app.kubernetes.io/name": APP},
                "matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "In",
                                      "values": components}],
            },
            "namespaceSelector": {"matchNames": [spec.namespace]},
            "podMetricsEndpoints": [{"port": METRICS_PORT_NAME, "path": "/metrics",
                                     "interval": SCRAPE_INTERVAL}],
        },
    }


def pod_monitors(spec: WorkloadSpec) -> list[dict[str, Any]]:
    """One PodMonitor for web, one for the worker pools, one for beat, one for the relay."""
    workers = [f"worker-{q.name}" for q in spec.queues]
    return [pod_monitor(spec, "web", ["web"]), pod_monitor(spec, "workers", workers),
            pod_monitor(spec, "beat", ["beat"]), pod_monitor(spec, "relay", ["relay"])]


def prometheus_rule(spec: WorkloadSpec) -> dict[str, Any]:
    """The SLO and fault alerts (the same groups as the local rule file)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(spec, "quintet-slo", "monitoring"),
        "spec": {"groups": rule_groups()},
    }


def dashboard_configmaps(spec: WorkloadSpec) -> list[dict[str, Any]]:
    """One ConfigMap per dashboard, labelled for the Grafana sidecar."""
    maps = []
    for filename, board in dashboards().items():
        meta = metadata(spec, f"dashboard-{board['uid']}", "monitoring")
        meta["labels"] = {**meta["labels"], DASHBOARD_LABEL: "1"}
        maps.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                     "data": {filename: json.dumps(board, indent=1, sort_keys=True)}})
    return maps


def monitoring_objects(spec: WorkloadSpec) -> list[dict[str, Any]]:
    """Everything of the monitoring group, in apply order."""
    return [*dashboard_configmaps(spec), prometheus_rule(spec), *pod_monitors(spec)]

