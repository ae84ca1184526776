"""The load balancer controller's IAM policy against the project's own published policies for the
pinned chart (kept under components/upstream/aws-load-balancer-controller, see SOURCE.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.cluster_software import lb_controller_policy
from tests.infra.conftest import SHIPPED_STACKS
from tests.k8s.conftest import settings_of

UPSTREAM = Path(__file__).resolve().parents[2] / "components/upstream/aws-load-balancer-controller"
CHART_VERSION = "1.14.0"  # eks-charts chart whose appVersion (v2.14.0) the files come from


def _actions(policy: dict) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        found |= {action} if isinstance(action, str) else set(action)
    return found


def _upstream(name: str) -> dict:
    return json.loads((UPSTREAM / name).read_text())


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_the_reference_files_belong_to_the_pinned_chart(stack):
    pinned = settings_of(stack).cluster.chart_lb_controller_version
    assert pinned == CHART_VERSION, (
        f"{stack} pins aws-load-balancer-controller chart {pinned}; the reference policies are "
        f"for {CHART_VERSION}: refresh {UPSTREAM.name}/ from the chart's appVersion (SOURCE.md)"
    )


def test_the_documented_targetgroupbinding_subset_is_granted():
    missing = _actions(_upstream("iam_policy_targetgroupbinding_only.json")) - _actions(
        lb_controller_policy()
    )
    assert missing == set(), f"the controller would be denied {sorted(missing)}"


def test_nothing_is_granted_that_the_published_policy_lacks():
    extra = _actions(lb_controller_policy()) - _actions(_upstream("iam_policy.json"))
    assert extra == set(), f"not in the controller's published policy: {sorted(extra)}"


def test_no_create_or_delete_rights_since_pulumi_owns_the_load_balancer():
    granted = _actions(lb_controller_policy())
    assert not {a for a in granted if ":Create" in a or ":Delete" in a}


def test_the_deployed_role_policy_is_this_policy(stack_run):
    deployed = stack_run("prod").named("cluster-software-lb-controller-policy").inputs["policy"]
    assert json.loads(deployed) == lb_controller_policy()
