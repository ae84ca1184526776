"""Values a user must set: a real run refuses them, the offline plan warns, forks mark them."""

from __future__ import annotations

import pytest

from offline.mocks import run_program
from offline.plan import plan_warnings
from offline.stack_files import engine_string, read_stack_config
from stacks.errors import ConfigError
from stacks.program import main as real_main

REAL = {
    "quintet:domain": "www.shop-platform.io",
    "quintet:cloudflareZoneId": "7c5e1a2b9d3f4e6a8b0c1d2e3f4a5b6c",
    "quintet:clusterPublicAccessCidrs": ["81.2.69.0/24"],
    "quintet:upstreamSanctionsUrl": "https://sanctions.vendor-one.io/v1/screen",
    "quintet:upstreamFraudUrl": "https://fraud.vendor-two.io/v1/score",
    "quintet:upstreamAddressUrl": "https://address.vendor-three.io/v1/validate",
    "quintet:imageTag": "3f2a9c1d7e4b",
}


def _real_run(stack: str, overrides: dict):
    config = read_stack_config(stack)
    values = {**config.values, **{k: engine_string(v) for k, v in overrides.items()}}
    return run_program(real_main, stack=stack, config=values, secret_keys=config.secret_keys)


def test_a_real_preview_refuses_the_shipped_placeholders_naming_each():
    with pytest.raises(ConfigError) as refused:
        _real_run("prod", {"quintet:imageTag": "3f2a9c1d7e4b"})
    text = str(refused.value)
    for line in (
        "quintet:domain: 'www.example.com' is a placeholder",
        "quintet:cloudflareZoneId: '0123456789abcdef0123456789abcdef' is a placeholder; set the "
        "id of the Cloudflare zone",
        "quintet:clusterPublicAccessCidrs: ['203.0.113.0/24'] is a placeholder",
        "quintet:upstreamFraudUrl: 'https://fraud.example.com/v1/score' is a placeholder",
    ):
        assert line in text


def test_the_example_account_id_is_a_placeholder():
    arn = "arn:aws:iam::123456789012:role/platform-admin"
    with pytest.raises(ConfigError) as refused:
        _real_run("prod", {**REAL, "quintet:clusterAdminRoleArns": [arn]})
    assert f"quintet:clusterAdminRoleArns: {arn!r} names the example account id" in str(
        refused.value
    )


def test_with_real_values_a_real_preview_starts():
    # dev: the mocks' Cloudflare zone is example.com, which a real domain cannot lie in.
    dev = {k: v for k, v in REAL.items() if "cloudflare" not in k.lower()}
    run = _real_run("dev", dev)
    assert run.of_type("aws:eks/cluster:Cluster")


def test_the_offline_plan_lists_them_as_warnings(stack_run):
    from datetime import date

    warnings = plan_warnings("prod", stack_run("prod"), date(2026, 12, 1))
    placeholders = [w for w in warnings if w.startswith("placeholder: ")]
    assert len(placeholders) == 6, placeholders
    assert any("quintet:cloudflareZoneId" in w for w in placeholders)
