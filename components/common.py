"""Pieces every component shares: name tags and the KMS keys that encrypt a tier's data."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_aws as aws

KEY_DELETION_WINDOW_DAYS = 30  # the longest AWS allows: time to notice a key scheduled to go


def name_tagger(component: str, base: dict[str, str]) -> Callable[..., dict[str, str]]:
    """Tags for a child: the stack's tags, ``Name=<component>-<resource>``, and extras."""

    def tags(resource: str, **extra: str) -> dict[str, str]:
        return {**base, "Name": f"{component}-{resource}", **extra}

    return tags


def rotating_key(
    name: str, description: str, tags: dict[str, str], opts: pulumi.ResourceOptions
) -> aws.kms.Key:
    """A customer-managed KMS key with yearly rotation on and the longest deletion window."""
    return aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        tags=tags,
        opts=opts,
    )
