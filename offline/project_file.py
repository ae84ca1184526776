"""Keeps Pulumi.yaml's ``config:`` block in step with the settings model.

Pulumi's project config schema supports scalar and array types with one fixed default. A key
whose default depends on the tier cannot carry a default there: the CLI would hand that default
to every stack and override the tier preset, and a declared key without a default is required
in every stack file. Such keys are declared with their type and a description that states the
default per tier, under a name the CLI does not enforce (``quintet:`` keys are validated by the
program itself, before any resource is declared). Run ``python -m offline.project_file --write``
after changing the model; a test fails while Pulumi.yaml is stale.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from offline.generated import write_or_check
from offline.stack_files import PROJECT_FILE
from stacks.settings.load import RELEASE_PINS
from stacks.settings.presets import TIER_PRESETS
from stacks.settings.schema import Leaf, leaves

HEADER = """\
# quintet: the Pulumi project. `make plan STACK=<name>` shows what a stack declares, offline.
#
# The config block below is generated from stacks/settings/model.py
# (`.venv/bin/python -m offline.project_file --write`); a test fails when it is stale.
# Keys with one default for every tier carry it as `default`. Keys whose default depends on the
# tier or on kubernetesVersion carry no `default` (the CLI would apply it over the preset or the
# version's pins) and are listed under `template.config` instead; the program validates every key.
"""


def tier_defaults(leaf: Leaf) -> dict[str, Any]:
    """The value of one setting in each tier when a stack file does not set it."""
    return {tier: preset.get(leaf.key, leaf.default) for tier, preset in TIER_PRESETS.items()}


def _schema(leaf: Leaf) -> dict[str, Any]:
    decl: dict[str, Any] = {"type": leaf.type_name, "description": leaf.spec.description}
    if leaf.type is list:
        decl["items"] = {"type": "string"}
    if leaf.spec.secret:
        decl["secret"] = True
    return decl


def project_document() -> dict[str, Any]:
    """The whole Pulumi.yaml as data."""
    fixed: dict[str, Any] = {}
    per_tier: dict[str, Any] = {}
    for leaf in leaves():
        defaults = tier_defaults(leaf)
        distinct = {repr(v) for v in defaults.values()}
        if leaf.key in RELEASE_PINS:
            # Its default follows kubernetesVersion: a fixed default would pin every stack.
            per_tier[leaf.full_key] = {
                "description": f"({leaf.type_name}) {leaf.spec.description} Default: the "
                "kubernetesVersion's row of components/eks_releases.py "
                f"({leaf.default} for the default version).",
            }
        elif len(distinct) == 1:
            fixed[leaf.key] = {**_schema(leaf), "default": leaf.default}
        else:
            shown = ", ".join(f"{tier}={value}" for tier, value in defaults.items())
            per_tier[leaf.full_key] = {
                "description": f"({leaf.type_name}) {leaf.spec.description} "
                f"Default per tier: {shown}.",
            }
    return {
        "name": "quintet",
        "description": "The reference topology of a Django platform at scale: Cloudflare, ALB, "
        "EKS (uvicorn web, Celery pools, beat), RDS Postgres with replicas, ElastiCache Redis.",
        "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}},
        "config": fixed,
        "template": {"description": "quintet reference stack", "config": per_tier},
    }


def render() -> str:
    """Pulumi.yaml's text."""
    return HEADER + yaml.safe_dump(project_document(), sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> int:
    """``--write`` rewrites Pulumi.yaml; otherwise exit 1 when it is stale."""
    return write_or_check(PROJECT_FILE, render(), regenerate="make docs", argv=argv)


if __name__ == "__main__":
    sys.exit(main())
