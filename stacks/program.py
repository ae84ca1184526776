"""The Pulumi program: validate the stack's config, then declare the reference stack."""

from __future__ import annotations

import pulumi

from stacks.config_source import current_config
from stacks.errors import ConfigError
from stacks.reference import build_reference_stack
from stacks.settings import load_settings


def main() -> None:
    """Entry point of ``pulumi up`` and of the offline plan; nothing is declared on bad config."""
    raw, secret_keys = current_config()
    settings = load_settings(raw, secret_keys)
    region = raw.get("aws:region")
    if not region:
        raise ConfigError(
            ["aws:region: missing; set it in the stack file, e.g. `aws:region: eu-west-2`"]
        )
    build_reference_stack(
        settings, stack=pulumi.get_stack(), region=region, aws_profile=raw.get("aws:profile")
    )
