"""The providers' rules the mocks do not check: every shipped and forked stack keeps them, and
each rule fires on a plan mutated to break it (and only that rule)."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from offline.mocks import run_program
from offline.new_stack import ForkError, new_stack
from offline.plan import plan_document
from offline.provider_rules import api_shape, provider_findings
from offline.snapshot import reboot_notices
from offline.stack_files import read_stack_config
from stacks.errors import ConfigError
from stacks.image import OFFLINE_IMAGE_TAG
from stacks.program import offline_main
from tests.infra.conftest import SHIPPED_STACKS

ROOT = Path(__file__).resolve().parents[2]
LONG_STACK = "customer-facing-production-eu"


@pytest.fixture(scope="module")
def plans(stack_run) -> dict[str, dict]:
    return {stack: plan_document(stack_run(stack)) for stack in SHIPPED_STACKS}


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stacks_keep_every_provider_rule(plans, run_with, stack):
    assert provider_findings(plans[stack]["resources"]) == []
    first_deploy = plan_document(run_with(stack, {"quintet:imageTag": None}))
    assert provider_findings(first_deploy["resources"]) == []


@pytest.mark.parametrize("source", ["prod", "staging", "dev"])
def test_forked_stacks_keep_every_provider_rule(tmp_path, source):
    for path in ROOT.glob("Pulumi*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    new_stack("team-a", source, root=tmp_path)
    config = read_stack_config("team-a", root=tmp_path)
    values = {**config.values, "quintet:imageTag": OFFLINE_IMAGE_TAG}
    run = run_program(offline_main, stack="team-a", config=values,
                      secret_keys=config.secret_keys)
    assert provider_findings(plan_document(run)["resources"]) == []


def test_the_ranges_come_from_botocores_models():
    interval = api_shape("elbv2", "CreateTargetGroup", "HealthCheckIntervalSeconds")
    assert (interval.metadata["min"], interval.metadata["max"]) == (5, 300)


def _first(doc: dict, type_token: str, where: Callable[[dict], bool] = lambda r: True) -> dict:
    for r in doc["resources"]:
        if r["type"] == type_token and where(r):
            return r
    raise AssertionError(f"the plan has no {type_token}")


def _primary(r: dict) -> bool:
    return not r["inputs"].get("replicateSourceDb")


def _set(type_token, path, value, where=lambda r: True):
    def mutate(doc):
        node = _first(doc, type_token, where)["inputs"]
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return mutate


def _static_immediate(doc):
    group = _first(doc, "aws:rds/parameterGroup:ParameterGroup")
    for p in group["inputs"]["parameters"]:
        if p["name"] == "max_connections":
            p["applyMethod"] = "immediate"


def _bucket(doc):
    doc["resources"].append({"type": "aws:s3/bucketV2:BucketV2", "name": "logs",
                             "urn": "urn:x::logs", "inputs": {"bucket": "Quintet_Logs"}})


def _long_logical_target_group(doc):
    _first(doc, "aws:lb/targetGroup:TargetGroup")["name"] = "load-balancer-web-targets-long"


RDS, TG = "aws:rds/instance:Instance", "aws:lb/targetGroup:TargetGroup"
GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
TOKEN = "random:index/randomPassword:RandomPassword"
BREAKERS: dict[str, tuple[str, Callable[[dict], None], str]] = {
    "tg-interval": ("api-model", _set(TG, "healthCheck.interval", 301),
                    "HealthCheckIntervalSeconds"),
    "tg-protocol": ("api-model", _set(TG, "protocol", "HTTP3"), "CreateTargetGroup Protocol"),
    "ecr-mutability": ("api-model", _set("aws:ecr/repository:Repository",
                                         "imageTagMutability", "SOMETIMES"),
                       "imageTagMutability"),
    "nodegroup-capacity": ("api-model", _set("aws:eks/nodeGroup:NodeGroup", "capacityType",
                                             "RESERVED"), "capacityType"),
    "iam-role-name": ("api-model", _set("aws:iam/role:Role", "name", "r" * 65), "RoleName"),
    "rds-identifier": ("rds-identifier", _set(RDS, "identifier", "quintet--prod-replica-1",
                                              lambda r: not _primary(r)),
                       "no trailing or doubled hyphen"),
    "group-id-length": ("elasticache-group-id", _set(GROUP, "replicationGroupId", "q" * 41),
                        "AWS allows 1 to 40"),
    "tg-autoname": ("elb-name", _long_logical_target_group, "AWS allows 1 to 32"),
    "s3-bucket": ("s3-bucket-name", _bucket, "S3 bucket name 'Quintet_Logs'"),
    "static-parameter": ("rds-static-parameter", _static_immediate,
                         "max_connections is a static parameter"),
    "replica-source": ("rds-replica-source-backups",
                       _set(RDS, "backupRetentionPeriod", 0, _primary), "above 0"),
    "final-snapshot": ("rds-final-snapshot-unique",
                       _set(RDS, "finalSnapshotIdentifier", "quintet-prod-final", _primary),
                       "is fixed"),
    "token-length": ("elasticache-auth-token", _set(TOKEN, "length", 12,
                                                    lambda r: "auth-token" in r["name"]),
                     "length 12 is outside 16 to 128"),
    "token-alphabet": ("elasticache-auth-token", _set(TOKEN, "special", True,
                                                      lambda r: "auth-token" in r["name"]),
                       "may generate '@'"),
    "log-retention": ("log-retention", _set("aws:cloudwatch/logGroup:LogGroup",
                                            "retentionInDays", 10), "retentionInDays 10"),
    "kms-window": ("kms-deletion-window", _set("aws:kms/key:Key", "deletionWindowInDays", 3),
                   "outside 7 to 30"),
    "eks-version": ("eks-version", _set("aws:eks/cluster:Cluster", "version", "1.99"),
                    "not in the kit's EKS table"),
    "cloudflare-ttl": ("cloudflare-ttl", _set("cloudflare:index/dnsRecord:DnsRecord", "ttl",
                                              300, lambda r: r["inputs"].get("proxied")),
                       "a proxied record's ttl must be 1"),
}


@pytest.mark.parametrize("case", sorted(BREAKERS))
def test_each_rule_fires_on_a_plan_that_breaks_it(plans, case):
    rule, breaker, words = BREAKERS[case]
    doc = copy.deepcopy(plans["prod"])
    breaker(doc)
    findings = provider_findings(doc["resources"])
    assert {f.rule for f in findings} == {rule}, findings
    assert any(words in f.message for f in findings), findings


def test_a_long_forked_stack_name_fails_validation_naming_name_and_limit():
    config = read_stack_config("prod")
    with pytest.raises(ConfigError) as refused:
        run_program(offline_main, stack=LONG_STACK, config=config.values,
                    secret_keys=config.secret_keys)
    assert (
        f"stack {LONG_STACK!r}: the name is not allowed; the ElastiCache replication group id "
        f"'quintet-{LONG_STACK}-broker' has 44 characters; AWS allows 1 to 40"
    ) in str(refused.value)
    assert "Use a stack name of at most 25 characters" in str(refused.value)


def test_new_stack_refuses_the_long_name_with_the_same_line(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    with pytest.raises(ForkError) as refused:
        new_stack(LONG_STACK, "prod", root=tmp_path)
    assert "has 44 characters; AWS allows 1 to 40" in str(refused.value)
    assert not (tmp_path / f"Pulumi.{LONG_STACK}.yaml").exists()


def test_a_max_connections_change_is_reported_as_needing_a_reboot(plans, run_with):
    raised = plan_document(run_with("prod", {"quintet:dbConnectionHeadroom": 40}))
    (notice,) = reboot_notices(plans["prod"], raised)
    assert notice.startswith("! reboot needed: database-params: max_connections ")
    assert "-> " in notice and "pending-reboot" in notice
    assert reboot_notices(plans["prod"], plans["prod"]) == []
