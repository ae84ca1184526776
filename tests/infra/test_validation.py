"""Bad stack config fails before any resource is declared, naming key, value and what is allowed."""

from __future__ import annotations

import pytest

from offline.mocks import run_program
from stacks.errors import ConfigError
from stacks.program import offline_main as main


def test_unknown_key_is_named_with_a_hint(config_error):
    message = config_error("dev", {"quintet:databse": 2})
    assert message.startswith("quintet:databse: unknown key")
    assert "dbReplicas" in message


def test_near_miss_suggests_the_key(config_error):
    assert "did you mean quintet:dbReplicas?" in config_error("dev", {"quintet:dbReplica": 2})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("quintet:azCount", "three", 'quintet:azCount: "three" is not allowed; expected a whole'),
        ("quintet:dbMultiAz", "yes", "expected a boolean"),
        ("quintet:webPoolInstanceTypes", "m7i.large", "expected a list of strings"),
        ("quintet:dbReplicas", -1, "quintet:dbReplicas: \"-1\" is not allowed; must be at least 0"),
        ("quintet:tier", "qa", 'quintet:tier: "qa" is not allowed; allowed: dev, staging, prod'),
        ("quintet:natStrategy", "two", "allowed: single, per-az"),
        ("quintet:vpcCidr", "10.0.0.300/16", "expected an IPv4 CIDR"),
        ("quintet:vpcCidr", "10.0.0.1/16", "host bits zero"),
        ("quintet:domain", "Not A Domain", "expected a lower-case DNS name"),
    ],
)
def test_bad_values_name_key_value_and_allowed(config_error, key, value, expected):
    assert expected in config_error("dev", {key: value})


def test_min_greater_than_max(config_error):
    message = config_error("dev", {"quintet:webPoolMin": 5, "quintet:webPoolMax": 2})
    assert "quintet:webPoolMin: 5 is not allowed; it must not exceed quintet:webPoolMax (2)" in (
        message
    )


def test_cidr_too_small_for_the_subnets(config_error):
    message = config_error("prod", {"quintet:vpcCidr": "10.42.0.0/19"})
    assert message.startswith("quintet:vpcCidr: '10.42.0.0/19' is too small")
    assert "need 13824 addresses" in message and "has 8192" in message


def test_every_problem_is_reported_at_once(config_error):
    message = config_error("dev", {"quintet:azCount": 0, "quintet:dbReplicas": 9})
    assert len(message.splitlines()) == 2


def test_secrets_only_as_pulumi_secrets(config_error, run_with):
    message = config_error("dev", {"cloudflare:apiToken": "plain-text-token"})
    assert "cloudflare:apiToken: a plain-text value is not allowed for a secret" in message
    assert "plain-text-token" not in message
    run_with("dev", {"cloudflare:apiToken": "[secret]"}, secrets=("cloudflare:apiToken",))


def test_missing_region_is_named(config_error):
    assert config_error("dev", {"aws:region": None}).startswith("aws:region: missing")


def test_nothing_is_declared_on_bad_config():
    caught: list[ConfigError] = []

    def program():
        try:
            main()
        except ConfigError as bad:
            caught.append(bad)

    run = run_program(
        program, stack="dev",
        config={"aws:region": "eu-west-2", "quintet:azCount": "9"}, secret_keys=[],
    )
    assert caught and "quintet:azCount" in str(caught[0])
    assert run.resources == []


def test_a_plain_text_secret_is_refused_without_echoing_it(config_error):
    message = config_error("dev", {"quintet:opsPagerToken": "hunter2-in-the-clear"})
    assert message == (
        "quintet:opsPagerToken: a plain-text value is not allowed for a secret; "
        "set it with `pulumi config set --secret quintet:opsPagerToken <value>`"
    )
