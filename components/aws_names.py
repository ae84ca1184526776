"""Name and identifier rules AWS enforces that its API models (botocore) do not carry.

Each rule says where AWS documents it. Pure: the stack's validation (before anything is
declared) and the offline provider check (on the plan) share them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameRule:
    """What AWS allows for one kind of name."""

    what: str
    """The kind of name, as AWS calls it."""
    max_length: int
    """Longest allowed."""
    pattern: re.Pattern[str]
    """Characters and shape (the length is checked apart)."""
    shape: str
    """The pattern in words, for the error line."""
    source: str
    """Where AWS documents the rule."""
    min_length: int = 1


# Letters, digits and hyphens, a letter first, no trailing hyphen and no two hyphens in a row.
_RDS_STYLE = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]*(?<!-)$")
_RDS_SHAPE = "letters, digits and hyphens; a letter first; no trailing or doubled hyphen"
_ELB_STYLE = re.compile(r"^(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_ELB_SHAPE = "letters, digits and hyphens; not starting or ending with a hyphen"

RDS_INSTANCE_ID = NameRule(
    "RDS DB instance identifier", 63, _RDS_STYLE, _RDS_SHAPE,
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
)
RDS_SNAPSHOT_ID = NameRule(
    "RDS DB snapshot identifier", 255, _RDS_STYLE, _RDS_SHAPE,
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html",
)
ELASTICACHE_GROUP_ID = NameRule(
    "ElastiCache replication group id", 40, _RDS_STYLE, _RDS_SHAPE,
    "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/"
    "API_CreateReplicationGroup.html",
)
LOAD_BALANCER_NAME = NameRule(
    "load balancer name", 32, _ELB_STYLE, _ELB_SHAPE + "; not starting with internal-",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/"
    "API_CreateLoadBalancer.html",
)
TARGET_GROUP_NAME = NameRule(
    "target group name", 32, _ELB_STYLE, _ELB_SHAPE,
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/"
    "API_CreateTargetGroup.html",
)
S3_BUCKET_NAME = NameRule(
    "S3 bucket name", 63,
    re.compile(r"^(?!xn--|sthree-|amzn-s3-demo-)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)"
               r"[a-z0-9][a-z0-9.-]*[a-z0-9](?<!-s3alias)(?<!--ol-s3)(?<!\.mrap)$"),
    "lower-case letters, digits, dots and hyphens; starting and ending with a letter or digit; "
    "not an IP address",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    min_length=3,
)
# Pulumi's default auto-naming appends "-" and 7 random characters to the logical name.
AUTONAME_SUFFIX = 8


def name_problem(rule: NameRule, value: str) -> str | None:
    """Why ``value`` is not an allowed name under ``rule`` (length first), or None."""
    if not rule.min_length <= len(value) <= rule.max_length:
        return (
            f"{rule.what} {value!r} has {len(value)} characters; AWS allows "
            f"{rule.min_length} to {rule.max_length} ({rule.source})"
        )
    if not rule.pattern.match(value):
        return f"{rule.what} {value!r} is not allowed: {rule.shape} ({rule.source})"
    return None
