"""Grafana dashboards as JSON (the chart's sidecar loads ConfigMaps labelled grafana_dashboard).

Two dashboards: the SLO overview (every SLO of k8s.alerts, web, cache, database, and the data
tier's CloudWatch metrics) and the Celery view (per queue: wait, length, outcomes, retries,
dead letters, runtime; beat). Every Prometheus expression is a plain PromQL string, so the tests
check them all with promtool.
"""

from __future__ import annotations

from typing import Any

from k8s.alerts import SLOS, WINDOW

PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
CLOUDWATCH = {"type": "cloudwatch", "uid": "cloudwatch"}
"""The CloudWatch datasource the kube-prometheus-stack values provision (components)."""


def _panel(title: str, exprs: dict[str, str], *, unit: str = "short", kind: str = "timeseries",
           ) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "datasource": PROMETHEUS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend,
                     "datasource": PROMETHEUS}
                    for i, (legend, expr) in enumerate(exprs.items())],
    }


def _cloudwatch(title: str, namespace: str, metric: str, dimension: str,
                stat: str = "Maximum") -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "datasource": CLOUDWATCH,
        "targets": [{"refId": "A", "datasource": CLOUDWATCH, "namespace": namespace,
                     "metricName": metric, "statistic": stat, "region": "default",
                     "dimensions": {dimension: "*"}, "matchExact": False,
                     "queryMode": "Metrics", "metricQueryType": 0, "metricEditorMode": 0}],
    }


def _layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two panels per row, each 12 x 8, ids in order."""
    for index, panel in enumerate(panels):
        panel["id"] = index + 1
        panel["gridPos"] = {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)}
    return panels


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    return {"uid": uid, "title": title, "tags": ["quintet"], "timezone": "utc",
            "schemaVersion": 39, "version": 1, "refresh": "30s",
            "time": {"from": "now-3h", "to": "now"}, "panels": _layout(panels)}


def slo_overview() -> dict[str, Any]:
    """Each SLO as a stat beside its target, then the web, cache and database detail."""
    rate = f"[{WINDOW}]"
    panels = [_panel(f"{slo.name} (target {slo.op} {slo.target:g})", {slo.name: slo.measure},
                     unit="s" if slo.unit == "s" else "percentunit", kind="stat")
              for slo in SLOS]
    panels += [
        _panel("p95 latency by view", {"{{view}} {{method}}": (
            "histogram_quantile(0.95, sum by (le, view, method) "
            f"(rate(quintet_http_request_duration_seconds_bucket{rate})))")}, unit="s"),
        _panel("responses by status", {"{{status}}": (
            f"sum by (status) (rate(quintet_http_responses_total{rate}))")}, unit="reqps"),
        _panel("cache hit ratio by key family", {"{{family}}": (
            f"sum by (family) (rate(quintet_cache_lookups_total{{result=\"hit\"}}{rate})) / "
            f"sum by (family) (rate(quintet_cache_lookups_total{rate}))")}, unit="percentunit"),
        _panel("SQL statements per second and p95 time", {
            "{{alias}} statements/s": (
                f"sum by (alias) (rate(quintet_db_query_duration_seconds_count{rate}))"),
            "{{alias}} p95": ("histogram_quantile(0.95, sum by (le, alias) "
                              f"(rate(quintet_db_query_duration_seconds_bucket{rate})))")}),
        _panel("PgBouncer: server connections in use vs pool size", {
            "in use {{database}}": ("sum by (database) (quintet_pgbouncer_sv_active + "
                                    "quintet_pgbouncer_sv_idle + quintet_pgbouncer_sv_used)"),
            "pool size {{database}}": "sum by (database) (quintet_pgbouncer_pool_size)",
            "clients waiting {{database}}": "sum by (database) (quintet_pgbouncer_cl_waiting)"}),
        _panel("primary connections vs max_connections", {
            "connections": "max(quintet_database_connections)",
            "max_connections": "max(quintet_database_max_connections)"}),
        _cloudwatch("RDS replica lag (CloudWatch)", "AWS/RDS", "ReplicaLag",
                    "DBInstanceIdentifier"),
        _cloudwatch("RDS connections (CloudWatch)", "AWS/RDS", "DatabaseConnections",
                    "DBInstanceIdentifier"),
        _cloudwatch("ElastiCache evictions (CloudWatch)", "AWS/ElastiCache", "Evictions",
                    "CacheClusterId", stat="Sum"),
        _cloudwatch("ElastiCache connections (CloudWatch)", "AWS/ElastiCache",
                    "CurrConnections", "CacheClusterId"),
    ]
    return _dashboard("quintet-slo", "quintet: SLO overview", panels)


def celery_view() -> dict[str, Any]:
    """Per queue: wait, length, outcomes, retries, dead letters, runtime; beat's last tick."""
    rate = f"[{WINDOW}]"
    panels = [
        _panel("queue wait p95 by queue", {"{{queue}}": (
            "histogram_quantile(0.95, sum by (le, queue) "
            f"(rate(quintet_celery_queue_wait_seconds_bucket{rate})))")}, unit="s"),
        _panel("queue length (what KEDA scales on)", {
            "{{queue}}": "max by (queue) (quintet_celery_queue_length)"}),
        _panel("task outcomes per second", {"{{queue}} {{state}}": (
            f"sum by (queue, state) (rate(quintet_celery_task_outcomes_total{rate}))")}),
        _panel("retries per second", {"{{task}}": (
            f"sum by (task) (rate(quintet_celery_task_retries_total{rate}))")}),
        _panel("dead-lettered tasks (last hour)", {"{{queue}} {{task}}": (
            "sum by (queue, task) (increase(quintet_celery_task_dead_lettered_total[1h]))")}),
        _panel("task runtime p95 by task", {"{{task}}": (
            "histogram_quantile(0.95, sum by (le, task) "
            f"(rate(quintet_celery_task_runtime_seconds_bucket{rate})))")}, unit="s"),
        _panel("seconds since beat's last tick", {
            "beat": "time() - max(quintet_celery_beat_last_tick_timestamp_seconds)"}, unit="s"),
        _panel("broker reachable from the workers", {"up": "min(quintet_celery_broker_up)"}),
    ]
    return _dashboard("quintet-celery", "quintet: Celery", panels)


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard by file name."""
    return {"quintet-slo.json": slo_overview(), "quintet-celery.json": celery_view()}


def prometheus_exprs(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard (its Prometheus targets)."""
    return [target["expr"] for panel in dashboard["panels"]
            if panel["datasource"] == PROMETHEUS for target in panel["targets"]]
