"""The monitoring objects: PodMonitors reach every app pod's metrics port, the PrometheusRule is
the one rule source, and every PromQL expression of the dashboards parses under promtool."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from k8s.alerts import rule_groups
from k8s.dashboards import dashboards, prometheus_exprs
from k8s.spec import METRICS_PORT
from tests.k8s.conftest import SHIPPED_STACKS, of_kind, pod_spec

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="promtool is not installed")
@pytest.mark.parametrize("filename", sorted(dashboards()))
def test_every_dashboard_expression_parses(filename: str, tmp_path: Path) -> None:
    exprs = prometheus_exprs(dashboards()[filename])
    assert exprs
    rules = [{"record": f"dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs)]
    (tmp_path / "exprs.yaml").write_text(yaml.safe_dump({"groups": [
        {"name": filename, "rules": rules}]}))
    result = subprocess.run([PROMTOOL, "check", "rules", "exprs.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_the_prometheus_rule_is_the_one_rule_source(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    [rule] = of_kind(objects, "PrometheusRule")
    assert rule["spec"]["groups"] == rule_groups()


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_dashboards_are_configmaps_for_the_grafana_sidecar(stack, stack_objects) -> None:
    _, objects = stack_objects(stack)
    maps = [m for m in of_kind(objects, "ConfigMap")
            if m["metadata"]["labels"].get("grafana_dashboard") == "1"]
    loaded = {name: json.loads(body) for m in maps for name, body in m["data"].items()}
    assert loaded == dashboards()


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_app_pod_exposes_metrics_on_a_port_a_pod_monitor_scrapes(stack, stack_objects):
    _, objects = stack_objects(stack)
    monitored: set[str] = set()
    for monitor in of_kind(objects, "PodMonitor"):
        [expression] = monitor["spec"]["selector"]["matchExpressions"]
        monitored |= set(expression["values"])
        assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]
    for deployment in of_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        if name == "flower":
            continue  # Flower has no app metrics; the workers report the queues
        [app] = pod_spec(deployment)["containers"]
        ports = {p["name"]: p["containerPort"] for p in app["ports"]}
        assert ports.get("metrics") == METRICS_PORT, name
        component = deployment["spec"]["template"]["metadata"]["labels"][
            "app.kubernetes.io/component"]
        assert component in monitored, f"{name} is not scraped"
        probes = [app.get(p, {}) for p in ("startupProbe", "readinessProbe", "livenessProbe")]
        assert all(probe.get("httpGet", {}).get("port") != "metrics" for probe in probes)
