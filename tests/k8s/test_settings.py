"""Workload settings: tier values; bad values refused with the key, value and what is allowed."""

from __future__ import annotations

import pytest

from offline.stack_files import engine_string, read_stack_config
from stacks.errors import ConfigError
from stacks.settings import load_settings


def load(stack: str, **overrides: object):
    """Settings of a shipped stack with ``quintet:`` keys overridden."""
    config = read_stack_config(stack)
    values = dict(config.values)
    values.update({f"quintet:{k}": engine_string(v) for k, v in overrides.items()})
    return load_settings(values, config.secret_keys)


def error(stack: str, **overrides: object) -> str:
    """The validation message of a bad override."""
    with pytest.raises(ConfigError) as raised:
        load(stack, **overrides)
    return str(raised.value)


def test_prod_scales_each_queue_on_its_own() -> None:
    queues = load("prod").workloads.queues
    assert queues["priority"].list_length < queues["default"].list_length
    assert queues["low"].min_replicas == 0 and queues["low"].activation_list_length > 0
    assert queues["default"].min_replicas >= 2


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"workerLowMin": 9}, "quintet:workerLowMin: 9 is not allowed; it must not exceed "
                              "quintet:workerLowMax (2)"),
        ({"webCpuRequest": "3"}, 'quintet:webCpuRequest: "3" is not allowed; it must not exceed '
                                 "quintet:webCpuLimit (1)"),
        ({"workerDefaultMemoryLimit": "1Gb"}, 'quintet:workerDefaultMemoryLimit: "1Gb" is not '
                                              "allowed; '1Gb' is not a quantity"),
        ({"webMemoryRequest": "512m"}, "is in millibytes; use Mi or Gi"),
        ({"k8sNamespace": "Quintet_App"}, 'quintet:k8sNamespace: "Quintet_App" is not allowed; '
                                          "expected a DNS label"),
        ({"workerPriorityConcurrency": 0}, "quintet:workerPriorityConcurrency: \"0\" is not "
                                           "allowed; must be at least 1"),
        ({"logLevel": "TRACE"}, "allowed: DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_bad_workload_settings_are_refused(overrides: dict, expected: str) -> None:
    assert expected in error("staging", **overrides)
