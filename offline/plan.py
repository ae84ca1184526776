"""The offline plan: run the real program for a stack under mocks and print what it declares.

``python -m offline.plan --stack prod`` prints the resource tree; ``--json`` prints only JSON,
byte-identical between runs, secrets masked. Exit 2 on bad config, with the validation message.
``--stack dev staging prod`` plans each in turn in one process (one JSON document per stack).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Any

import pulumi

from offline.mocks import ProgramRun, run_program
from offline.stack_files import read_stack_config


def plan_stack(stack: str) -> ProgramRun:
    """Runs the program of one stack file under mocks."""
    from stacks.program import main  # imported late: pulumi providers take seconds to import

    config = read_stack_config(stack)
    return run_program(
        main, stack=stack, config=config.values, secret_keys=config.secret_keys
    )


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
    args = parser.parse_args(argv)
    for stack in args.stack:
        status = _plan_one(stack, as_json=args.json)
        if status:
            return status
    return 0


def _plan_one(stack: str, *, as_json: bool) -> int:
    try:
        run = plan_stack(stack)
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
    sys.stdout.write(render_json(run) if as_json else render_tree(run))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
