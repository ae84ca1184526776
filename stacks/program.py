"""The Pulumi program: validate the stack's config, then declare the reference stack."""

from __future__ import annotations

from datetime import date

import pulumi

from components.eks_releases import support_warning
from stacks.config_source import current_config
from stacks.errors import ConfigError
from stacks.names import stack_name_problems
from stacks.placeholders import REFUSAL_HINT, placeholder_problems
from stacks.reference import build_reference_stack
from stacks.settings import load_settings


def main(*, offline: bool = False) -> None:
    """Entry point of ``pulumi up`` and of the offline plan; nothing is declared on bad config.

    ``offline`` is the offline plan's run: placeholder values (example.com, TEST-NET ranges,
    the example zone id) are then the plan's warnings, where a real run refuses them.
    """
    raw, secret_keys = current_config()
    settings = load_settings(raw, secret_keys)
    region = raw.get("aws:region")
    if not region:
        raise ConfigError(
            ["aws:region: missing; set it in the stack file, e.g. `aws:region: eu-west-2`"]
        )
    stack = pulumi.get_stack()
    problems = stack_name_problems(stack, settings)
    if problems:
        raise ConfigError(problems)
    if not offline:
        placeholders = placeholder_problems(settings)
        if placeholders:
            raise ConfigError([*placeholders, REFUSAL_HINT])
        warning = support_warning(settings.cluster.kubernetes_version, date.today())
        if warning:
            pulumi.log.warn(warning)
    build_reference_stack(settings, stack=stack, region=region, aws_profile=raw.get("aws:profile"))


def offline_main() -> None:
    """The program as the offline plan, its snapshots and the tests run it."""
    main(offline=True)
