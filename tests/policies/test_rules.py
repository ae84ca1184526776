"""Every guardrail passes on every shipped stack's plan and fires on a plan mutated to break it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date

import pytest

from offline.plan import plan_document
from policies.rules import RULES, Resource, check_all
from tests.infra.conftest import SHIPPED_STACKS

# A fixed date: the EKS calendar rule must not turn CI red as days pass.
TODAY = date(2026, 12, 1)


def as_resources(doc: dict) -> list[Resource]:
    return [Resource(r["type"], r["name"], r["urn"], r["inputs"]) for r in doc["resources"]]


@pytest.fixture(scope="module")
def plans(stack_run) -> dict[str, dict]:
    return {stack: plan_document(stack_run(stack)) for stack in SHIPPED_STACKS}


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stacks_break_no_rule(plans, stack):
    violations = check_all(as_resources(plans[stack]), TODAY)
    assert violations == {rule.name: [] for rule in RULES}


def _first(doc: dict, type_token: str, where: Callable[[dict], bool] = lambda r: True) -> dict:
    for r in doc["resources"]:
        if r["type"] == type_token and where(r):
            return r
    raise AssertionError(f"the plan has no {type_token} to break the rule on")


def _primary(r: dict) -> bool:
    return not r["inputs"].get("replicateSourceDb")


def break_rds(doc):
    _first(doc, "aws:rds/instance:Instance", _primary)["inputs"]["storageEncrypted"] = False


def break_elasticache(doc):
    _first(doc, "aws:elasticache/replicationGroup:ReplicationGroup")["inputs"][
        "transitEncryptionEnabled"] = False


def break_prod_durability(doc):
    _first(doc, "aws:rds/instance:Instance", _primary)["inputs"]["backupRetentionPeriod"] = 3


def break_open_ingress(doc):
    rule = _first(
        doc, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        lambda r: r["name"] == "database-from-nodes",
    )
    rule["inputs"].pop("referencedSecurityGroupId", None)
    rule["inputs"]["cidrIpv4"] = "0.0.0.0/0"


def break_eks(doc):
    _first(doc, "aws:eks/cluster:Cluster")["inputs"]["enabledClusterLogTypes"] = ["api"]


def break_containers(doc):
    deployment = _first(doc, "kubernetes:apps/v1:Deployment")
    container = deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]
    container["resources"].pop("limits", None)


def break_listener(doc):
    listener = _first(
        doc, "aws:lb/listener:Listener", lambda r: r["inputs"].get("protocol") == "HTTP"
    )
    listener["inputs"]["defaultActions"] = [{"type": "forward", "targetGroupArn": "tg"}]


def break_eks_support(doc):
    # 1.34 leaves standard support on 2026-12-02; on TODAY it is 1.33 that has left it.
    _first(doc, "aws:eks/cluster:Cluster")["inputs"]["version"] = "1.33"


def _uploads(doc, type_token):
    return _first(doc, type_token, lambda r: r["name"].startswith("uploads-"))


def break_bucket_private(doc):
    block = _uploads(doc, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    block["inputs"]["restrictPublicBuckets"] = False


def break_bucket_encrypted(doc):
    config = _uploads(
        doc,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    config["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] = "AES256"


def break_bucket_tls(doc):
    policy = _uploads(doc, "aws:s3/bucketPolicy:BucketPolicy")
    document = json.loads(policy["inputs"]["policy"])
    document["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"] = "true"
    policy["inputs"]["policy"] = json.dumps(document)


def break_bucket_tls_objects(doc):
    policy = _uploads(doc, "aws:s3/bucketPolicy:BucketPolicy")
    document = json.loads(policy["inputs"]["policy"])
    statement = document["Statement"][0]
    statement["Resource"] = [r for r in statement["Resource"] if not r.endswith("/*")]
    policy["inputs"]["policy"] = json.dumps(document)


def test_the_tls_rule_fires_when_the_deny_spares_the_objects(plans):
    doc = copy.deepcopy(plans["prod"])
    break_bucket_tls_objects(doc)
    violations = check_all(as_resources(doc), TODAY)
    assert violations["s3-bucket-tls-only"], "a deny on the bucket ARN alone passed"
    assert not {name: v for name, v in violations.items() if name != "s3-bucket-tls-only" and v}


BREAKERS = {
    "eks-standard-support": break_eks_support,
    "rds-encrypted-private": break_rds,
    "elasticache-encrypted-auth": break_elasticache,
    "prod-database-durability": break_prod_durability,
    "no-open-ingress": break_open_ingress,
    "eks-secrets-encryption-logging": break_eks,
    "containers-non-root-limits": break_containers,
    "alb-listeners-https": break_listener,
    "s3-bucket-private": break_bucket_private,
    "s3-bucket-encrypted": break_bucket_encrypted,
    "s3-bucket-tls-only": break_bucket_tls,
}


def test_every_rule_has_a_breaker():
    assert set(BREAKERS) == {rule.name for rule in RULES}


@pytest.mark.parametrize("rule_name", sorted(BREAKERS))
def test_each_rule_fires_on_a_plan_that_breaks_it(plans, rule_name):
    doc = copy.deepcopy(plans["prod"])
    BREAKERS[rule_name](doc)
    violations = check_all(as_resources(doc), TODAY)
    assert violations[rule_name], f"{rule_name} did not fire"
    others = {name: v for name, v in violations.items() if name != rule_name and v}
    assert not others, others


def test_open_web_ingress_is_allowed_only_without_the_edge(plans):
    dev = copy.deepcopy(plans["dev"])
    open_web = [
        r for r in dev["resources"]
        if r["type"] == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
        and r["inputs"].get("cidrIpv4") == "0.0.0.0/0"
    ]
    assert sorted(r["inputs"]["fromPort"] for r in open_web) == [80, 443]
    assert check_all(as_resources(dev), TODAY)["no-open-ingress"] == []
    # The same rules break the policy once Cloudflare fronts the ALB.
    dev["resources"].append({
        "type": "cloudflare:index/dnsRecord:DnsRecord", "name": "edge-www",
        "urn": "urn:pulumi:dev::quintet::cloudflare:index/dnsRecord:DnsRecord::edge-www",
        "inputs": {"proxied": True},
    })
    flagged = {v.urn for v in check_all(as_resources(dev), TODAY)["no-open-ingress"]}
    assert flagged == {r["urn"] for r in open_web}


def test_eks_rule_fires_from_the_day_standard_support_ends(plans):
    doc = copy.deepcopy(plans["prod"])
    _first(doc, "aws:eks/cluster:Cluster")["inputs"]["version"] = "1.34"
    resources = as_resources(doc)
    assert check_all(resources, date(2026, 12, 1))["eks-standard-support"] == []
    (late,) = check_all(resources, date(2026, 12, 2))["eks-standard-support"]
    assert "left EKS standard support on 2026-12-02" in late.message
