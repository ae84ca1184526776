"""Committed plan snapshots stay in step with the program; the diff reads like a review."""

from __future__ import annotations

import json

import pytest

from offline.plan import plan_document
from offline.snapshot import diff_plans, snapshot_path, summary
from tests.infra.conftest import SHIPPED_STACKS


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_snapshot_is_current(stack_run, stack):
    path = snapshot_path(stack)
    assert path.exists(), f"no snapshot for {stack}: run make snapshots"
    old = json.loads(path.read_text())
    lines = diff_plans(old, plan_document(stack_run(stack)))
    assert not lines, (
        f"the program changed stack {stack} but {path.name} is stale "
        f"(run make snapshots and commit the diff):\n" + "\n".join(lines[:60])
    )


def _doc(*resources):
    return {"resources": list(resources)}


def _res(name, parent=None, type_="aws:ec2/vpc:Vpc", **inputs):
    return {"urn": f"urn:{name}", "name": name, "type": type_, "parent": parent,
            "inputs": inputs, "dependencies": [], "provider": None}


def test_diff_groups_added_removed_and_changed_inputs_by_component():
    component = _res("network", type_="quintet:network:Network")
    old = _doc(component, _res("vpc", "urn:network", cidrBlock="10.0.0.0/16"),
               _res("gone", "urn:network"))
    new = _doc(component, _res("vpc", "urn:network", cidrBlock="10.1.0.0/16"),
               _res("fresh", "urn:network"))
    lines = diff_plans(old, new)
    assert lines[0] == "quintet:network:Network network:"
    assert "  + aws:ec2/vpc:Vpc  fresh" in lines
    assert "  - aws:ec2/vpc:Vpc  gone" in lines
    assert "  ~ aws:ec2/vpc:Vpc  vpc" in lines
    assert '      inputs.cidrBlock: "10.0.0.0/16" -> "10.1.0.0/16"' in lines
    assert summary(old, new) == "1 to add, 1 to remove, 1 to change"


def test_identical_plans_have_no_diff():
    doc = _doc(_res("vpc", cidrBlock="10.0.0.0/16"))
    assert diff_plans(doc, json.loads(json.dumps(doc))) == []


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_architecture_diagram_is_current(stack_run, stack):
    from offline.diagram import DIAGRAM_DIR, render_dot

    committed = DIAGRAM_DIR / f"{stack}.dot"
    assert committed.exists(), f"no diagram for {stack}: run make diagram"
    assert committed.read_text() == render_dot(stack_run(stack)), (
        f"docs/diagrams/{stack}.dot is stale: run make diagram"
    )
    assert (DIAGRAM_DIR / f"{stack}.svg").exists()
