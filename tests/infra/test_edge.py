"""The load balancer and the edge per stack: the ALB's listeners and target group, who may reach
it, the certificate's validation, and Cloudflare's records, cache rules and TLS settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from offline.mocks import CLOUDFLARE_MOCK_IPV4, unwrap_secrets
from tests.infra.conftest import SHIPPED_STACKS

ROOT = Path(__file__).resolve().parents[2]
ZONE = "0123456789abcdef0123456789abcdef"


def _alb_ingress(run):
    alb_sg = run.named("network-alb-sg")
    return [
        r for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == f"{alb_sg.name}-id"
    ]


def _cloudflare(run):
    return [r for r in run.resources if r.type.startswith("cloudflare:")]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_https_listener_and_http_redirect(stack_run, stack):
    run = stack_run(stack)
    alb = run.named("load-balancer-alb")
    validation = run.named("load-balancer-cert-validation")
    target_group = run.named("load-balancer-web")
    https = run.named("load-balancer-https")
    assert https.inputs["port"] == 443 and https.inputs["protocol"] == "HTTPS"
    assert https.inputs["loadBalancerArn"] == alb.outputs["arn"]
    # The listener takes the certificate only once validated.
    assert validation.urn in https.dependencies
    assert https.inputs["certificateArn"] == run.named("load-balancer-cert").outputs["arn"]
    assert https.inputs["sslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    forward = {"type": "forward", "targetGroupArn": target_group.outputs["arn"]}
    if stack == "prod":  # behind the edge: see the origin lock tests
        assert run.named("load-balancer-https-from-edge").inputs["actions"] == [forward]
    else:
        assert https.inputs["defaultActions"] == [forward]
    redirect = run.named("load-balancer-http-redirect")
    assert redirect.inputs["port"] == 80 and redirect.inputs["protocol"] == "HTTP"
    assert redirect.inputs["defaultActions"] == [
        {
            "type": "redirect",
            "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"},
        }
    ]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_alb_is_internet_facing_with_a_60s_idle_timeout(stack_run, stack):
    run = stack_run(stack)
    alb = run.named("load-balancer-alb")
    assert alb.inputs["internal"] is False
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["idleTimeout"] == 60
    assert alb.inputs["securityGroups"] == ["network-alb-sg-id"]
    assert alb.inputs["subnets"] and all("-public-" in s for s in alb.inputs["subnets"])
    assert alb.inputs["enableDeletionProtection"] is (stack == "prod")


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_ip_target_group_checks_readiness(stack_run, stack):
    target_group = stack_run(stack).named("load-balancer-web")
    assert target_group.inputs["targetType"] == "ip"
    assert target_group.inputs["port"] == 8000
    assert target_group.inputs["healthCheck"]["path"] == "/readyz"  # the pod, not its deps
    assert target_group.inputs["deregistrationDelay"] <= 30


def test_prod_alb_admits_only_cloudflare(stack_run):
    rules = _alb_ingress(stack_run("prod"))
    assert rules
    assert {r.inputs["cidrIpv4"] for r in rules} == set(CLOUDFLARE_MOCK_IPV4)
    assert all(r.inputs["cidrIpv4"] != "0.0.0.0/0" for r in rules)
    assert not any(r.inputs.get("cidrIpv6") for r in rules)
    assert sorted((r.inputs["cidrIpv4"], r.inputs["fromPort"]) for r in rules) == sorted(
        (cidr, port) for cidr in CLOUDFLARE_MOCK_IPV4 for port in (80, 443)
    )
    assert any(
        i.token == "cloudflare:index/getIpRanges:getIpRanges" for i in stack_run("prod").invokes
    )


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_without_the_edge_the_alb_admits_the_internet_on_80_and_443(stack_run, stack):
    rules = _alb_ingress(stack_run(stack))
    assert sorted((r.inputs["cidrIpv4"], r.inputs["fromPort"]) for r in rules) == [
        ("0.0.0.0/0", 80), ("0.0.0.0/0", 443),
    ]


def test_prod_dns_record_is_proxied_to_the_alb(stack_run):
    run = stack_run("prod")
    record = run.named("edge-app")
    assert record.inputs == {
        "zoneId": ZONE,
        "name": "www.example.com",
        "type": "CNAME",
        "content": run.named("load-balancer-alb").outputs["dnsName"],
        "proxied": True,
        "ttl": 1,
        "comment": "quintet: the app, through the ALB",
    }


def test_certificate_is_validated_through_a_cloudflare_record(stack_run):
    run = stack_run("prod")
    certificate = run.named("load-balancer-cert")
    assert certificate.inputs["domainName"] == "www.example.com"
    assert certificate.inputs["validationMethod"] == "DNS"
    option = certificate.outputs["domainValidationOptions"][0]
    record = run.named("load-balancer-cert-validation-record")
    assert record.type == "cloudflare:index/dnsRecord:DnsRecord"
    assert record.inputs["name"] == option["resourceRecordName"].rstrip(".")
    assert record.inputs["type"] == option["resourceRecordType"]
    assert record.inputs["content"] == option["resourceRecordValue"].rstrip(".")
    assert record.inputs["proxied"] is False
    validation = run.named("load-balancer-cert-validation")
    assert validation.inputs["validationRecordFqdns"] == [record.inputs["name"]]
    assert record.urn in validation.dependencies


def _ruleset(run, phase):
    (ruleset,) = [r for r in run.of_type("cloudflare:index/ruleset:Ruleset")
                  if r.inputs["phase"] == phase]
    return ruleset


def test_private_paths_are_blocked_at_the_edge(stack_run):
    ruleset = _ruleset(stack_run("prod"), "http_request_firewall_custom")
    assert ruleset.inputs["kind"] == "zone" and ruleset.inputs["zoneId"] == ZONE
    (rule,) = ruleset.inputs["rules"]
    assert rule["action"] == "block"
    assert rule["expression"] == '(http.request.uri.path in {"/healthz" "/healthz/"})'


def test_cache_ruleset(stack_run):
    ruleset = _ruleset(stack_run("prod"), "http_request_cache_settings")
    assert ruleset.inputs["phase"] == "http_request_cache_settings"
    assert ruleset.inputs["kind"] == "zone" and ruleset.inputs["zoneId"] == ZONE
    rules = {r["ref"]: r for r in ruleset.inputs["rules"]}
    assert list(rules) == [
        "anonymous_pages_follow_origin", "hashed_static_long_ttl",
        "session_or_unsafe_method_bypass",
    ], "the bypass must come last: a later matching rule overrides an earlier one"
    assert all(r["action"] == "set_cache_settings" for r in rules.values())
    pages = rules["anonymous_pages_follow_origin"]["actionParameters"]
    assert pages["cache"] is True and pages["edgeTtl"] == {"mode": "bypass_by_default"}
    static = rules["hashed_static_long_ttl"]
    assert 'starts_with(http.request.uri.path, "/static/")' in static["expression"]
    assert static["actionParameters"]["edgeTtl"] == {
        "mode": "override_origin", "default": 365 * 24 * 3600,
    }
    bypass = rules["session_or_unsafe_method_bypass"]
    assert bypass["actionParameters"] == {"cache": False}
    assert 'http.cookie contains "sessionid="' in bypass["expression"]
    assert 'http.cookie contains "q_rw="' in bypass["expression"]  # read-your-writes too
    assert 'not (http.request.method in {"GET" "HEAD"})' in bypass["expression"]


def test_behind_the_edge_the_alb_forwards_only_requests_with_the_edges_secret_header(stack_run):
    # Cloudflare's ranges are every Cloudflare customer's: without the header a request from
    # anyone's zone would reach the app. The listener answers 403 unless the header matches.
    run = stack_run("prod")
    https = run.named("load-balancer-https")
    assert https.inputs["defaultActions"] == [
        {
            "type": "fixed-response",
            "fixedResponse": {"contentType": "text/plain", "messageBody": "forbidden",
                              "statusCode": "403"},
        }
    ]
    rule = run.named("load-balancer-https-from-edge")
    assert rule.inputs["listenerArn"] == https.outputs["arn"]
    assert rule.inputs["actions"] == [
        {"type": "forward", "targetGroupArn": run.named("load-balancer-web").outputs["arn"]}
    ]
    (condition,) = unwrap_secrets(rule.inputs["conditions"])
    demanded = condition["httpHeader"]

    ruleset = run.named("edge-origin-lock")
    assert ruleset.inputs["phase"] == "http_request_late_transform"
    (transform,) = unwrap_secrets(ruleset.inputs["rules"])
    assert transform["action"] == "rewrite"
    assert transform["expression"] == '(http.host eq "www.example.com")'  # this host only
    (sent_name, sent), = transform["actionParameters"]["headers"].items()
    assert sent["operation"] == "set"  # replaces a header a client forged
    assert demanded == {"httpHeaderName": sent_name, "values": [sent["value"]]}
    secret = run.named("origin-lock-secret")
    assert secret.inputs["special"] is False and secret.inputs["length"] >= 32
    assert sent["value"] == secret.outputs["result"]


def test_the_alb_demands_the_header_only_once_the_edge_sends_it(stack_run):
    run = stack_run("prod")
    assert run.named("edge-origin-lock").urn in run.named("load-balancer-https").dependencies


def test_the_origin_lock_secret_never_shows_in_plain(stack_run):
    run = stack_run("prod")
    for name in ("load-balancer-https-from-edge", "edge-origin-lock"):
        text = json.dumps(run.named(name).masked_inputs)
        assert run.named("origin-lock-secret").outputs["result"] not in text, name


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_without_the_edge_there_is_no_origin_lock(stack_run, stack):
    run = stack_run(stack)
    assert not run.of_type("aws:lb/listenerRule:ListenerRule")
    assert not [r for r in run.resources if r.name == "origin-lock-secret"]


def test_zone_tls_settings(stack_run):
    settings = {
        s.inputs["settingId"]: s.inputs["value"]
        for s in stack_run("prod").of_type("cloudflare:index/zoneSetting:ZoneSetting")
    }
    assert settings == {
        "ssl_automatic_mode": "custom",
        "ssl": "strict",
        "always_use_https": "on",
        "min_tls_version": "1.2",
    }


def test_strict_ssl_is_set_after_automatic_ssl_is_turned_off(stack_run):
    # With Automatic SSL/TLS (a new zone's default) Cloudflare chooses the mode itself, so ssl =
    # strict must follow the switch to custom, never race it.
    run = stack_run("prod")
    by_id = {
        s.inputs["settingId"]: s for s in run.of_type("cloudflare:index/zoneSetting:ZoneSetting")
    }
    assert by_id["ssl_automatic_mode"].urn in by_id["ssl"].dependencies


def test_dev_without_a_zone_uses_no_cloudflare_and_waits_for_a_manual_record(stack_run):
    run = stack_run("dev")
    assert not _cloudflare(run)
    assert not any(i.token.startswith("cloudflare:") for i in run.invokes)
    validation = run.named("load-balancer-cert-validation")
    assert not validation.inputs.get("validationRecordFqdns")


def test_a_zone_without_the_edge_gets_dns_only_records(run_with):
    run = run_with("staging", {"quintet:cloudflareZoneId": ZONE})
    record = run.named("edge-app")
    assert record.inputs["proxied"] is False
    assert run.named("load-balancer-cert-validation-record").inputs["proxied"] is False
    assert not run.of_type("cloudflare:index/ruleset:Ruleset")
    assert not run.of_type("cloudflare:index/zoneSetting:ZoneSetting")
    assert {r.inputs["cidrIpv4"] for r in _alb_ingress(run)} == {"0.0.0.0/0"}


def test_cloudflare_is_not_imported_without_a_zone():
    code = (
        "import sys\n"
        "from tests.infra.conftest import _run\n"
        "_run('dev', {})\n"
        "print('pulumi_cloudflare' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]


def test_edge_enabled_without_a_zone_id_is_refused(config_error):
    message = config_error("dev", {"quintet:edgeEnabled": True})
    assert "quintet:cloudflareZoneId: '' is not allowed with quintet:edgeEnabled = true" in (
        message
    )


def test_a_domain_outside_the_zone_is_refused(run_with):
    with pytest.raises(Exception, match=r"quintet:domain: 'www\.example\.org' is not allowed"):
        run_with("prod", {"quintet:domain": "www.example.org"})


def test_bad_static_prefix_is_refused(config_error):
    assert "quintet:edgeStaticPathPrefix: 'static' is not allowed" in config_error(
        "dev", {"quintet:edgeStaticPathPrefix": "static"}
    )
