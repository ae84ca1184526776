"""The offline plan: complete, deterministic, secrets masked, clear failure on bad config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from offline.mocks import SECRET_MASK, run_program
from offline.plan import plan_document, render_json, render_tree

ROOT = Path(__file__).resolve().parents[2]


def plan_cli(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "offline.plan", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_json_plan_parses_and_is_byte_identical_across_runs(stack):
    first = plan_cli("--stack", stack, "--json")
    second = plan_cli("--stack", stack, "--json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert doc["stack"] == stack
    assert doc["resources"]
    for resource in doc["resources"]:
        assert set(resource) >= {"type", "name", "parent", "inputs"}


def test_plan_covers_every_registered_resource(stack_run):
    run = stack_run("prod")
    doc = plan_document(run)
    assert [r["urn"] for r in doc["resources"]] == [r.urn for r in run.resources]
    tree = render_tree(run)
    assert f"total: {len(run.resources)} resources" in tree
    for r in run.resources:
        assert f"{r.type}  {r.name}" in tree


def test_inputs_are_camel_case_as_the_engine_sees_them(stack_run):
    (vpc,) = stack_run("dev").of_type("aws:ec2/vpc:Vpc")
    assert "cidrBlock" in vpc.inputs and "enableDnsHostnames" in vpc.inputs


def test_secret_inputs_are_masked_everywhere():
    def program():
        pulumi.CustomResource(
            "test:index:Thing", "thing",
            {"password": pulumi.Output.secret("hunter2-very-secret"),
             "nested": {"token": pulumi.Output.secret("tok-123")}, "plain": "visible"},
        )

    run = run_program(program, stack="dev", config={}, secret_keys=[])
    text = render_json(run)
    assert "hunter2-very-secret" not in text and "tok-123" not in text
    (thing,) = plan_document(run)["resources"]
    assert thing["inputs"]["password"] == SECRET_MASK
    assert thing["inputs"]["plain"] == "visible"


def test_bad_config_exits_non_zero_with_one_line_naming_the_key(tmp_path):
    bad = ROOT / "Pulumi.citest-bad.yaml"
    bad.write_text("config:\n  aws:region: eu-west-2\n  quintet:databse: 2\n")
    try:
        result = plan_cli("--stack", "citest-bad", "--json")
    finally:
        bad.unlink()
    assert result.returncode == 2
    assert result.stdout == ""
    problems = [line for line in result.stderr.splitlines() if line.startswith("quintet:databse")]
    assert len(problems) == 1
    assert "Traceback" not in result.stderr


def test_unknown_stack_lists_the_known_ones():
    result = plan_cli("--stack", "nosuchstack")
    assert result.returncode == 2
    assert "no file Pulumi.nosuchstack.yaml; stacks here:" in result.stderr
    assert "prod" in result.stderr


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="needs unshare and root to cut the network")
def test_plan_runs_without_network():
    result = plan_cli("--stack", "prod", "--json", prefix=("unshare", "-n"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stack"] == "prod"


def test_a_run_after_asyncio_run_elsewhere_in_the_process_still_works():
    import asyncio

    async def nothing() -> None:
        return None

    asyncio.run(nothing())  # what an async app test does: leaves no current event loop
    run = run_program(lambda: None, stack="dev", config={}, secret_keys=[])
    assert run.resources == []


def test_make_plan_prints_its_warnings_and_fails_on_a_provider_finding(capsys, monkeypatch):
    from offline import plan as plan_module
    from offline import provider_rules

    assert plan_module.main(["--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "\nwarnings:\n  placeholder: quintet:domain: 'www.example.com' is a placeholder" in out
    assert "  first deploy: quintet:imageTag is unset" in out
    assert "  reboot: database-params: max_connections=" in out

    def refuse(resources):
        return [provider_rules.Finding("elb-name", "urn:x", "load-balancer-web: too long")]

    monkeypatch.setattr(provider_rules, "provider_findings", refuse)
    assert plan_module.main(["--stack", "prod"]) == 2
    err = capsys.readouterr().err
    assert "declares values the providers refuse:\nelb-name: load-balancer-web: too long" in err


def test_several_stacks_plan_in_one_process_each_as_alone():
    # One process for several stacks pays the providers' imports once (make plan STACK="a b").
    together = plan_cli("--stack", "dev", "staging", "--json")
    alone = [plan_cli("--stack", stack, "--json") for stack in ("dev", "staging")]
    assert together.returncode == 0, together.stderr
    assert together.stdout == "".join(run.stdout for run in alone)
