"""The k8s test harness: the objects of each shipped stack, built with the render placeholders.

``stack_objects("prod")`` returns (settings, groups) for Pulumi.prod.yaml, cached per session;
the same builders and inputs ``make render`` uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from k8s.build import build_groups
from offline.stack_files import read_stack_config
from stacks.settings import Settings, load_settings
from stacks.workloads import render_runtime, render_secrets, workload_spec

SHIPPED_STACKS = ("dev", "staging", "prod")
Groups = dict[str, list[dict[str, Any]]]


def settings_of(stack: str) -> Settings:
    """The validated settings of a shipped stack file."""
    config = read_stack_config(stack)
    return load_settings(config.values, config.secret_keys)


def groups_of(stack: str, settings: Settings | None = None) -> Groups:
    """The stack's objects by workload group (render placeholders for runtime and secrets)."""
    settings = settings or settings_of(stack)
    return build_groups(
        workload_spec(settings, stack, region="eu-west-2"),
        render_runtime(settings, stack, "eu-west-2"),
        render_secrets(),
    )


@pytest.fixture(scope="session")
def stack_objects() -> Callable[[str], tuple[Settings, list[dict[str, Any]]]]:
    """(settings, every object) of a shipped stack, built once per session."""
    cache: dict[str, tuple[Settings, list[dict[str, Any]]]] = {}

    def get(stack: str) -> tuple[Settings, list[dict[str, Any]]]:
        if stack not in cache:
            settings = settings_of(stack)
            groups = groups_of(stack, settings)
            cache[stack] = (settings, [o for objs in groups.values() for o in objs])
        return cache[stack]

    return get


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Objects of one kind."""
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of a kind with a name."""
    (found,) = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment or Job."""
    return obj["spec"]["template"]["spec"]
