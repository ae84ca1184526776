"""Committed plan snapshots and a readable diff against them: infrastructure review offline.

``make snapshots`` rewrites ``snapshots/<stack>.json`` from the offline plan; ``make plan-diff
STACK=<s>`` prints what the program now declares differently from the snapshot: resources added
and removed, and changed inputs, grouped by the top-level component they belong to, then the
monthly cost the change adds per component (offline/cost).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pulumi

SNAPSHOT_DIR = Path(__file__).resolve().parent.parent / "snapshots"


def snapshot_path(stack: str) -> Path:
    """Where a stack's snapshot lives."""
    return SNAPSHOT_DIR / f"{stack}.json"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key in sorted(value):
            flat.update(_flatten(value[key], f"{prefix}.{key}" if prefix else key))
        return flat
    if isinstance(value, list) and value and any(isinstance(v, dict | list) for v in value):
        flat = {}
        for index, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: value}


def component_of(resource: dict, by_urn: dict[str, dict]) -> str:
    """The top-level component a resource belongs to, as ``type name``."""
    top = resource
    while top.get("parent") and top["parent"] in by_urn:
        top = by_urn[top["parent"]]
    return f"{top['type']} {top['name']}"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def diff_plans(old: dict, new: dict) -> list[str]:
    """Lines describing how ``new`` differs from ``old``; empty when they declare the same."""
    old_by = {r["urn"]: r for r in old["resources"]}
    new_by = {r["urn"]: r for r in new["resources"]}
    groups: dict[str, list[str]] = {}

    def add(resource: dict, index: dict[str, dict], line: str) -> None:
        groups.setdefault(component_of(resource, index), []).append(line)

    for urn in sorted(set(new_by) - set(old_by)):
        r = new_by[urn]
        add(r, new_by, f"  + {r['type']}  {r['name']}")
    for urn in sorted(set(old_by) - set(new_by)):
        r = old_by[urn]
        add(r, old_by, f"  - {r['type']}  {r['name']}")
    for urn in sorted(set(old_by) & set(new_by)):
        before, after = old_by[urn], new_by[urn]
        flat_old = _flatten({k: v for k, v in before.items() if k != "urn"})
        flat_new = _flatten({k: v for k, v in after.items() if k != "urn"})
        changes = []
        for key in sorted(set(flat_old) | set(flat_new)):
            if flat_old.get(key, "<absent>") != flat_new.get(key, "<absent>"):
                changes.append(
                    f"      {key}: {_short(flat_old.get(key, '<absent>'))} -> "
                    f"{_short(flat_new.get(key, '<absent>'))}"
                )
        if changes:
            add(after, new_by, f"  ~ {after['type']}  {after['name']}")
            groups[component_of(after, new_by)] += changes
    lines: list[str] = []
    for group in sorted(groups):
        lines.append(f"{group}:")
        lines += groups[group]
    return lines


def summary(old: dict, new: dict) -> str:
    """One line: counts of added, removed and changed resources."""
    lines = diff_plans(old, new)
    added = sum(1 for line in lines if line.startswith("  + "))
    removed = sum(1 for line in lines if line.startswith("  - "))
    changed = sum(1 for line in lines if line.startswith("  ~ "))
    return f"{added} to add, {removed} to remove, {changed} to change"


def main(argv: list[str] | None = None) -> int:
    """``--write STACK...`` rewrites snapshots; ``--diff STACK`` prints the diff (exit 0)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", nargs="+", metavar="STACK")
    parser.add_argument("--diff", metavar="STACK")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except pulumi.RunError as bad:
        print(f"quintet: invalid configuration: {bad}", file=sys.stderr)
        return 2


def reboot_notices(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Static RDS parameters the change touches: applied only when each instance reboots."""
    from offline.provider_rules import pending_reboot_parameters

    before = pending_reboot_parameters(old["resources"])
    lines = []
    for group, params in pending_reboot_parameters(new["resources"]).items():
        for name, value in sorted(params.items()):
            was = before.get(group, {}).get(name)
            if was is not None and was != value:
                lines.append(
                    f"! reboot needed: {group}: {name} {was} -> {value} is static "
                    "(pending-reboot); `pulumi up` stores it, each instance applies it only when "
                    "rebooted (docs/runbook.md: connection budget)"
                )
    return lines


def _run(args: argparse.Namespace) -> int:
    from offline.plan import plan_document, plan_stack  # late: provider imports are slow

    if args.write:
        SNAPSHOT_DIR.mkdir(exist_ok=True)
        for stack in args.write:
            doc = plan_document(plan_stack(stack, steady_state=True))
            snapshot_path(stack).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
            print(f"wrote {snapshot_path(stack).relative_to(SNAPSHOT_DIR.parent)}")
        return 0
    if args.diff:
        path = snapshot_path(args.diff)
        old = json.loads(path.read_text()) if path.exists() else {"resources": []}
        new = plan_document(plan_stack(args.diff, steady_state=True))
        from offline.cost.delta import cost_delta_lines

        lines = diff_plans(old, new)
        cost = cost_delta_lines(old, new, args.diff)
        print(f"stack {args.diff}: {summary(old, new)}, {cost[0].removeprefix('cost: ')} "
              f"(against {path.name})")
        print("\n".join(lines) if lines else "no changes")
        print("\n".join(cost))
        for line in reboot_notices(old, new):
            print(line)
        return 0
    print("usage: python -m offline.snapshot --write STACK... | --diff STACK", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
