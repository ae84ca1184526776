"""The usage a stack's cost depends on (traffic, NAT data, logs), one file per stack."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

USAGE_DIR = Path(__file__).resolve().parents[2] / "cost"


class UsageError(ValueError):
    """Assumptions that are missing or malformed; one line per problem."""


@dataclass(frozen=True)
class Usage:
    """Usage-driven inputs of the estimate; each is printed beside the figures it moves."""

    requests_per_month: float
    """Requests reaching the edge (Cloudflare) per month."""
    edge_hit_ratio: float
    """Share of those the edge answers from its cache (0 to 1); the rest reach the origin."""
    alb_lcu_average: float
    """Average ALB load balancer capacity units in use per hour."""
    nat_gb_per_month: float
    """GB through the NAT gateways per month (image pulls, third-party APIs), all NATs together."""
    vpc_endpoint_gb_per_month: float
    """GB through interface VPC endpoints per month (only where the stack declares them)."""
    logs_gb_per_day: float
    """GB of logs ingested into CloudWatch per day, all log groups together."""
    ecr_storage_gb: float
    """GB of images kept in the registry (after its lifecycle policy)."""
    uploads_storage_gb: float
    """GB of user uploads in the bucket, kept versions included (S3 Standard)."""
    rds_backup_gb_beyond_free: float
    """GB-month of RDS backups beyond the free allowance (the provisioned storage)."""
    cloudflare_plan_usd_per_month: float
    """The Cloudflare zone plan (0 for Free, 25 for Pro, 250 for Business, billed by Cloudflare)."""


RATIOS = {"edge_hit_ratio"}


def usage_path(stack: str, usage_dir: Path = USAGE_DIR) -> Path:
    """Where a stack's assumptions live."""
    return usage_dir / f"{stack}.yaml"


def load_usage(stack: str, usage_dir: Path = USAGE_DIR) -> Usage:
    """Reads and checks ``cost/<stack>.yaml``; every problem is one line naming the key."""
    path = usage_path(stack, usage_dir)
    if not path.exists():
        raise UsageError(
            f"no cost assumptions for stack {stack!r}: create {path.parent.name}/{path.name} "
            f"with the keys {', '.join(f.name for f in fields(Usage))} (docs/cost.md)"
        )
    doc = yaml.safe_load(path.read_text()) or {}
    known = {f.name for f in fields(Usage)}
    problems: list[str] = []
    values: dict[str, float] = {}
    for name in sorted(known):
        if name not in doc:
            problems.append(f"{path.name}: missing assumption {name} (see docs/cost.md)")
            continue
        value = doc[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{path.name}: {name} = {value!r} is not a number")
        elif value < 0 or (name in RATIOS and value > 1):
            allowed = "between 0 and 1" if name in RATIOS else "0 or more"
            problems.append(f"{path.name}: {name} = {value!r} is not allowed; use {allowed}")
        else:
            values[name] = float(value)
    for name in sorted(set(doc) - known):
        problems.append(
            f"{path.name}: unknown assumption {name}; known: {', '.join(sorted(known))}"
        )
    if problems:
        raise UsageError("\n".join(problems))
    return Usage(**values)
