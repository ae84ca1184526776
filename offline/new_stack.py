"""Forks a stack: ``make new-stack NAME=<name> FROM=<stack or tier>`` writes Pulumi.<name>.yaml.

The new file plans offline at once; the values a team must still decide are marked ``TODO``.
Secrets are never copied: a secure value of the source stack becomes a TODO to set with
``pulumi config set --secret``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from offline.stack_files import ROOT, available_stacks, engine_string
from stacks.settings.model import TIERS

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
# Keys a fork should not inherit blindly, with why; the value stays (so it plans) but is marked.
MUST_REVIEW = {
    "aws:region": "the region this stack deploys to",
    "quintet:vpcCidr": "pick a CIDR no other stack uses if VPCs are ever peered",
    "quintet:domain": "the stack's own public host name",
    "quintet:cloudflareZoneId": "the Cloudflare zone of the domain",
    "quintet:clusterPublicAccessCidrs": "the CI and operator CIDRs allowed to reach the EKS API",
}
TIER_STARTERS: dict[str, dict[str, Any]] = {
    "dev": {"aws:region": "eu-west-2", "quintet:tier": "dev"},
    "staging": {"aws:region": "eu-west-2", "quintet:tier": "staging"},
    "prod": {
        "aws:region": "eu-west-2",
        "quintet:tier": "prod",
        "quintet:cloudflareZoneId": "00000000000000000000000000000000",
        "quintet:clusterPublicAccessCidrs": ["203.0.113.0/24"],
    },
}


class ForkError(ValueError):
    """A fork that cannot be written; the text says why and what is allowed."""


def _line(key: str, value: Any, placeholder: str | None = None) -> str:
    dumped = yaml.safe_dump(value, default_flow_style=True, width=200).strip()
    text = f"{key}: {dumped.removesuffix(chr(10) + '...').strip()}"
    if placeholder:
        text += "  # PLACEHOLDER: pulumi preview/up refuse it until set"
    elif key in MUST_REVIEW:
        text += f"  # TODO: {MUST_REVIEW[key]}"
    return f"  {text}"


def fork_placeholders(config: dict[str, Any]) -> list[str]:
    """The placeholder lines (key, value, what to set) of a fork's config, defaults included."""
    from stacks.placeholders import placeholder_problems  # late: imports the providers
    from stacks.settings import load_settings

    raw = {k: engine_string(v) for k, v in config.items() if not isinstance(v, dict)}
    return placeholder_problems(load_settings(raw))


def name_problems(name: str) -> list[str]:
    """The AWS names the stack would derive that AWS refuses (stack_name_problems)."""
    from stacks.names import stack_name_problems  # late: imports the providers
    from stacks.settings import Settings

    return stack_name_problems(name, Settings())


def fork_text(name: str, source: str, root: Path = ROOT) -> str:
    """The new stack file's text, from a stack file or a tier."""
    if source in available_stacks(root):
        doc = yaml.safe_load((root / f"Pulumi.{source}.yaml").read_text()) or {}
        config = dict(doc.get("config") or {})
        origin = f"stack {source}"
    elif source in TIERS:
        config = dict(TIER_STARTERS[source])
        origin = f"the {source} tier"
    else:
        raise ForkError(
            f"FROM={source!r} is neither a stack nor a tier; stacks: "
            f"{', '.join(available_stacks(root))}; tiers: {', '.join(TIERS)}"
        )
    lines = [
        f"# {name}: forked from {origin}. Set only what differs from the tier preset;",
        "# every key and its per-tier default: docs/configuration.md. Lines marked TODO are",
        "# placeholders a team must still decide; the stack plans offline as it is.",
        "config:",
    ]
    placeholders = fork_placeholders(config)
    placeholder_keys = {p.split(": ", 1)[0] for p in placeholders}
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            lines.append(
                f"  # TODO: {key} is a secret: pulumi config set --secret {key} <value>"
            )
            continue
        lines.append(_line(key, value, key if key in placeholder_keys else None))
    for key in MUST_REVIEW:
        if key not in config and key in ("aws:region", "quintet:vpcCidr", "quintet:domain"):
            lines.append(f"  # TODO: consider {key} ({MUST_REVIEW[key]})")
    unset = [p for p in placeholders if p.split(": ", 1)[0] not in config]
    if unset:
        lines.append("  # PLACEHOLDER defaults (pulumi preview/up refuse them until set):")
        lines += [f"  #   {p}" for p in unset]
    return "\n".join(lines) + "\n"


def new_stack(name: str, source: str, root: Path = ROOT) -> Path:
    """Writes Pulumi.<name>.yaml; refuses bad names and existing files."""
    if not NAME_PATTERN.match(name):
        raise ForkError(
            f"NAME={name!r} is not allowed; use 2-31 lower-case letters, digits or dashes, "
            "starting with a letter"
        )
    too_long = name_problems(name)
    if too_long:
        raise ForkError("\n".join(too_long))
    target = root / f"Pulumi.{name}.yaml"
    if target.exists():
        raise ForkError(f"{target.name} already exists; pick another NAME or edit that file")
    text = fork_text(name, source, root)
    target.write_text(text)
    _fork_cost_assumptions(name, source, root)
    return target


def _fork_cost_assumptions(name: str, source: str, root: Path) -> None:
    """Copies the source's cost assumptions (cost/<source>.yaml) so ``make cost`` works at once."""
    origin = root / "cost" / f"{source}.yaml"
    target = root / "cost" / f"{name}.yaml"
    if origin.exists() and not target.exists():
        body = origin.read_text().split("\n", 1)[1] if origin.read_text().startswith("#") else (
            origin.read_text())
        target.write_text(
            f"# Usage assumptions of the {name} stack's cost estimate, copied from {source}:\n"
            f"# TODO: set them to this stack's own traffic (docs/cost.md).\n{body}"
        )


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make new-stack``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--from", dest="source", required=True)
    args = parser.parse_args(argv)
    try:
        path = new_stack(args.name, args.source)
    except ForkError as bad:
        print(f"quintet: {bad}", file=sys.stderr)
        return 2
    print(f"wrote {path.name}; next: make plan STACK={args.name}")
    marked = [line for line in path.read_text().splitlines() if "PLACEHOLDER" in line]
    if marked:
        print("placeholders to set before a real deploy (marked PLACEHOLDER in the file):")
        print("\n".join(fork_placeholders(_config_of(path))))
    return 0


def _config_of(path: Path) -> dict[str, Any]:
    return dict((yaml.safe_load(path.read_text()) or {}).get("config") or {})


if __name__ == "__main__":
    sys.exit(main())
