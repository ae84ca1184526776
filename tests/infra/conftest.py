"""The infra test harness: build the real program for a stack file under Pulumi mocks.

``stack_run("prod")`` returns every resource the program registered for Pulumi.prod.yaml (cached
per session); ``run_with(stack, {"quintet:key": value})`` runs it with config overridden, and
``config_error(...)`` returns the validation message a bad config produces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from offline.mocks import ProgramRun, run_program
from offline.stack_files import engine_string, read_stack_config
from stacks.errors import ConfigError
from stacks.image import OFFLINE_IMAGE_TAG
from stacks.program import offline_main as main

SHIPPED_STACKS = ("dev", "staging", "prod")


def _run(stack: str, overrides: Mapping[str, Any], secrets: tuple[str, ...] = ()) -> ProgramRun:
    config = read_stack_config(stack)
    values = dict(config.values)
    # The steady state, as CI deploys it; a test passes {"quintet:imageTag": None} for the
    # first deploy.
    if not values.get("quintet:imageTag") and not values.get("quintet:imageDigest"):
        values["quintet:imageTag"] = OFFLINE_IMAGE_TAG
    for key, value in overrides.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = engine_string(value)
    return run_program(
        main,
        stack=stack,
        config=values,
        secret_keys=sorted({*config.secret_keys, *secrets}),
    )


@pytest.fixture(scope="session")
def stack_run() -> Callable[[str], ProgramRun]:
    """The program's registrations for a shipped stack file, built once per session."""
    cache: dict[str, ProgramRun] = {}

    def get(stack: str) -> ProgramRun:
        if stack not in cache:
            cache[stack] = _run(stack, {})
        return cache[stack]

    return get


@pytest.fixture
def run_with() -> Callable[..., ProgramRun]:
    """Runs a stack with some config keys overridden (None removes a key)."""

    def run(stack: str, overrides: Mapping[str, Any], secrets: tuple[str, ...] = ()) -> ProgramRun:
        return _run(stack, overrides, secrets)

    return run


@pytest.fixture
def config_error() -> Callable[..., str]:
    """The validation message for a stack run with bad overrides; fails if none is raised."""

    def error(stack: str, overrides: Mapping[str, Any], secrets: tuple[str, ...] = ()) -> str:
        with pytest.raises(ConfigError) as raised:
            _run(stack, overrides, secrets)
        return str(raised.value)

    return error
