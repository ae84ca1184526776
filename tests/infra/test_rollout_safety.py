"""The pieces that make a rolling deploy fail no request, held together on every stack's plan.

A web pod's termination (docs/workloads.md, the timeline): the LB controller deregisters it while
it sleeps in preStop; the ALB finishes what it sent within the deregistration delay; then SIGTERM
lets uvicorn finish anything left, well inside the grace period. New pods take traffic only when
ready, none is taken down before its replacement is, and scale-down removes one pod a minute.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.infra.conftest import SHIPPED_STACKS

ENTRYPOINT = Path(__file__).resolve().parents[2] / "app_image" / "entrypoint.sh"
CONTRACT = ENTRYPOINT.parent / "environment.json"
IMAGE = {"quintet:imageTag": "v1.2.3"}


def _uvicorn_flag(name: str) -> int:
    match = re.search(rf"--{name} (\d+)", ENTRYPOINT.read_text())
    assert match, name
    return int(match[1])


def _one(run, rtype: str, name: str | None = None) -> dict:
    found = [r for r in run.resources if r.type == rtype and (name is None or r.name == name)]
    assert len(found) == 1, (rtype, name, [r.name for r in found])
    return found[0].inputs


@pytest.fixture(scope="module", params=SHIPPED_STACKS)
def plan(request):
    from tests.infra.conftest import _run

    return _run(request.param, IMAGE)


def _web(run) -> dict:
    return _one(run, "kubernetes:apps/v1:Deployment", "workloads-deployment-web")


def test_new_pods_come_up_before_old_ones_go(plan):
    strategy = _web(plan)["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_the_alb_is_done_with_a_pod_before_its_prestop_ends(plan):
    pod = _web(plan)["spec"]["template"]["spec"]
    web = next(c for c in pod["containers"] if c["name"] == "app")
    sleep = web["lifecycle"]["preStop"]["sleep"]["seconds"]
    target_group = _one(plan, "aws:lb/targetGroup:TargetGroup")
    assert target_group["deregistrationDelay"] < sleep, (target_group["deregistrationDelay"],
                                                         sleep)
    drain = _uvicorn_flag("timeout-graceful-shutdown")
    assert pod["terminationGracePeriodSeconds"] > sleep + drain
    # The ALB closes what is still running when the delay ends: it must outlast the longest
    # request the app allows (the web role's statement timeout bounds each database call).
    contract = json.loads(CONTRACT.read_text())
    web_ms = int(next(v["default"] for v in contract if v["name"] == "STATEMENT_TIMEOUT_MS"))
    assert target_group["deregistrationDelay"] >= web_ms / 1000


def test_uvicorn_keeps_idle_connections_longer_than_the_alb(plan):
    alb = _one(plan, "aws:lb/loadBalancer:LoadBalancer")
    assert _uvicorn_flag("timeout-keep-alive") > alb["idleTimeout"]


def test_one_web_pod_at_a_time_is_disrupted_and_scaled_away(plan):
    pdb = _one(plan, "kubernetes:policy/v1:PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == _web(plan)["spec"]["selector"]
    hpa = _one(plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    scale_down = hpa["spec"]["behavior"]["scaleDown"]
    for policy in scale_down["policies"]:
        assert policy["type"] == "Pods" and policy["value"] <= 1, policy
        assert policy["periodSeconds"] >= 60, policy


def test_the_prestop_setting_moves_the_deregistration_delay_with_it(run_with):
    longer = run_with("prod", {**IMAGE, "quintet:webPreStopSleepSeconds": 40})
    assert _one(longer, "aws:lb/targetGroup:TargetGroup")["deregistrationDelay"] == 35
