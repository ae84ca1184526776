"""The offline plan: run the real program for a stack under mocks and print what it declares.

``python -m offline.plan --stack prod`` prints the resource tree; ``--json`` prints only JSON,
byte-identical between runs, secrets masked. Exit 2 on bad config, with the validation message,
and on any value the providers would refuse (``offline/provider_rules.py``). The text output
ends with the plan's warnings: placeholders a real deploy refuses, the EKS support window, and
the static parameters whose change waits for a reboot. ``--image-tag`` plans as if CI passed that
tag (a stack naming no image plans its first deploy: no workloads).
``--stack dev staging prod`` plans each in turn in one process (one JSON document per stack).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from datetime import date
from typing import Any

import pulumi

from offline.mocks import ProgramRun, run_program
from offline.stack_files import read_stack_config


def plan_stack(
    stack: str, image_tag: str | None = None, *, steady_state: bool = False
) -> ProgramRun:
    """Runs the program of one stack file under mocks (``image_tag`` as CI would pass it).

    ``steady_state`` (snapshots, diagrams): a stack naming no image is planned with the
    offline stand-in tag, so the committed plan shows the workloads CI deploys.
    """
    from stacks.image import OFFLINE_IMAGE_TAG
    from stacks.program import offline_main  # late: pulumi providers take seconds to import

    config = read_stack_config(stack)
    values = dict(config.values)
    if image_tag is not None:
        values["quintet:imageTag"] = image_tag
    names_image = values.get("quintet:imageTag") or values.get("quintet:imageDigest")
    if steady_state and not names_image:
        values["quintet:imageTag"] = OFFLINE_IMAGE_TAG
    return run_program(
        offline_main, stack=stack, config=values, secret_keys=config.secret_keys
    )


def plan_warnings(stack: str, run: ProgramRun, today: date) -> list[str]:
    """What a reader of the plan must know that does not fail it."""
    from components.eks_releases import support_warning
    from offline.provider_rules import pending_reboot_parameters
    from stacks.placeholders import placeholder_problems
    from stacks.settings import load_settings

    config = read_stack_config(stack)
    settings = load_settings(config.values, config.secret_keys)
    lines = [f"placeholder: {p}" for p in placeholder_problems(settings)]
    eks = support_warning(settings.cluster.kubernetes_version, today)
    if eks:
        lines.append(f"eks: {eks}")
    resources = plan_document(run)["resources"]
    for group, params in pending_reboot_parameters(resources).items():
        listed = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
        lines.append(
            f"reboot: {group}: {listed} are static (pending-reboot): a change is applied only "
            "when each instance reboots (docs/runbook.md, connection budget)"
        )
    if not any(r.type.startswith("kubernetes:") and "workloads" in r.urn for r in run.resources):
        lines.append(
            "first deploy: quintet:imageTag is unset, so the workloads are not declared; "
            "`make plan STACK=<s> IMAGE_TAG=<tag>` shows them"
        )
    return lines


def provider_problems(run: ProgramRun) -> list[str]:
    """The values AWS or Cloudflare would refuse, one line each."""
    from offline.provider_rules import provider_findings

    return [
        f"{f.rule}: {f.message}" for f in provider_findings(plan_document(run)["resources"])
    ]


def plan_document(run: ProgramRun) -> dict[str, Any]:
    """The JSON document of a plan: every resource with its engine inputs, secrets masked."""
    return {
        "stack": run.stack,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "provider": r.provider,
                "dependencies": r.dependencies,
                "inputs": r.masked_inputs,
            }
            for r in run.resources
        ],
    }


def render_json(run: ProgramRun) -> str:
    """The plan as deterministic JSON text."""
    return json.dumps(plan_document(run), indent=2, sort_keys=True) + "\n"


def render_tree(run: ProgramRun) -> str:
    """The plan as an indented tree of ``type name`` lines, with the count."""
    children: dict[str | None, list] = {}
    for r in run.resources:
        children.setdefault(r.parent, []).append(r)
    lines = [f"stack {run.stack}: {len(run.resources)} resources"]

    def walk(parent: str | None, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda x: (x.type, x.name)):
            lines.append(f"{'  ' * depth}{r.type}  {r.name}")
            walk(r.urn, depth + 1)

    walk(None, 1)
    by_type: dict[str, int] = {}
    for r in run.resources:
        by_type[r.type] = by_type.get(r.type, 0) + 1
    lines.append("")
    lines.append("count by type:")
    lines += [f"  {n:4d}  {t}" for t, n in sorted(by_type.items())]
    lines.append(f"total: {len(run.resources)} resources")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: prints the plan of each stack named; exit 2 on bad config."""
    parser = argparse.ArgumentParser(prog="make plan", description=__doc__)
    parser.add_argument("--stack", required=True, nargs="+",
                        help="stack name(s) (Pulumi.<stack>.yaml); several share one process, "
                             "so the providers' imports (seconds) are paid once")
    parser.add_argument("--json", action="store_true", help="print only JSON")
    parser.add_argument("--image-tag", help="plan as if CI passed this quintet:imageTag")
    args = parser.parse_args(argv)
    for stack in args.stack:
        status = _plan_one(stack, as_json=args.json, image_tag=args.image_tag)
        if status:
            return status
    return 0


def _plan_one(stack: str, *, as_json: bool, image_tag: str | None = None) -> int:
    try:
        run = plan_stack(stack, image_tag)
    except pulumi.RunError as bad:  # ConfigError, or a component refusing its inputs
        print(f"quintet: invalid configuration for stack {stack!r}:", file=sys.stderr)
        print(str(bad), file=sys.stderr)
        return 2
    except Exception as bug:  # a defect in the program, not the user's config
        if os.environ.get("QUINTET_DEBUG"):
            traceback.print_exc()
        print(f"quintet: the plan failed: {type(bug).__name__}: {bug}", file=sys.stderr)
        print("quintet: rerun with QUINTET_DEBUG=1 for the traceback", file=sys.stderr)
        return 1
    refused = provider_problems(run)
    if refused:
        print(f"quintet: stack {stack!r} declares values the providers refuse:",
              file=sys.stderr)
        print("\n".join(refused), file=sys.stderr)
        return 2
    if as_json:
        sys.stdout.write(render_json(run))
        sys.stdout.flush()
        return 0
    sys.stdout.write(render_tree(run))
    warnings = plan_warnings(stack, run, date.today())
    if warnings:
        print("\nwarnings:")
        print("\n".join(f"  {w}" for w in warnings))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
