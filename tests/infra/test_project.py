"""The project files: Pulumi.yaml in step with the settings model, __main__ is the real program."""

from __future__ import annotations

import runpy
from pathlib import Path

import yaml

from offline.mocks import run_program
from offline.new_stack import TIER_STARTERS
from offline.project_file import render, tier_defaults
from offline.stack_files import available_stacks, engine_string, read_stack_config
from stacks.settings import load_settings
from stacks.settings.load import RELEASE_PINS
from stacks.settings.presets import TIER_PRESETS
from stacks.settings.schema import leaves

ROOT = Path(__file__).resolve().parents[2]
REAL_VALUES = {
    "quintet:domain": "app.quintet-platform.io",
    "quintet:upstreamSanctionsUrl": "https://sanctions.vendor-one.io/v1/screen",
    "quintet:upstreamFraudUrl": "https://fraud.vendor-two.io/v1/score",
    "quintet:upstreamAddressUrl": "https://address.vendor-three.io/v1/validate",
    "quintet:imageTag": "3f2a9c1d7e4b",
}


def test_pulumi_yaml_is_generated_from_the_model():
    assert (ROOT / "Pulumi.yaml").read_text() == render(), (
        "Pulumi.yaml is stale: run .venv/bin/python -m offline.project_file --write"
    )


def test_pulumi_yaml_documents_every_key():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "quintet"
    assert project["runtime"]["name"] == "python"
    documented = set(project["config"]) | {
        k.split(":", 1)[1] for k in project["template"]["config"]
    }
    assert documented == {leaf.key for leaf in leaves()}
    for key, decl in project["config"].items():
        assert {"type", "description", "default"} <= set(decl), key


def test_tier_and_version_dependent_keys_carry_no_cli_default():
    # A CLI default would override the tier preset, or pin every stack to the default
    # Kubernetes version's add-ons whatever its kubernetesVersion.
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    for leaf in leaves():
        varies = len({repr(v) for v in tier_defaults(leaf).values()}) > 1
        follows_version = leaf.key in RELEASE_PINS
        assert (leaf.key in project["config"]) is not (varies or follows_version), leaf.key


def test_every_preset_and_shipped_stack_is_valid():
    for tier in TIER_PRESETS:
        # A tier's starter adds what no preset can know (prod: the zone id, the API CIDRs).
        starter = {k: engine_string(v) for k, v in TIER_STARTERS[tier].items()}
        assert load_settings(starter).tier == tier
    assert {"dev", "staging", "prod"} <= set(available_stacks())
    for stack in available_stacks():
        config = read_stack_config(stack)
        load_settings(config.values, config.secret_keys)


def test_main_module_declares_the_reference_stack(run_with):
    # __main__ is the real program: it refuses placeholders, so give it the values a team sets.
    config = read_stack_config("dev")
    values = {**config.values, **{k: engine_string(v) for k, v in REAL_VALUES.items()}}
    run = run_program(
        lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
        stack="dev", config=values, secret_keys=config.secret_keys,
    )
    offline = run_with("dev", REAL_VALUES)
    assert [r.urn for r in run.resources] == [r.urn for r in offline.resources]


def test_configuration_reference_is_current():
    from offline.config_reference import DOC
    from offline.config_reference import render as render_reference

    assert DOC.read_text() == render_reference(), "docs/configuration.md is stale: make docs"
