"""What AWS and Cloudflare check that Pulumi's mocks do not, held against a plan offline.

Two kinds of rule, both over the plan document (every resource with its engine inputs):

- API rules from AWS's own machine-readable models: botocore's service models give, for the
  API parameter each Pulumi input becomes, its range (``min``/``max``), length, ``pattern`` and
  ``enum``. ``API_INPUTS`` maps the inputs to the parameters; the values come from botocore.
- Written-down rules, for what the models omit (most name lengths, static parameters, the
  auth token alphabet, log retention values, Cloudflare's TTLs), each with its source.

``make plan`` runs every rule and fails on a finding; the tests run them on every shipped and
forked stack and on plans mutated to break each one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from components.aws_names import (
    AUTONAME_SUFFIX,
    ELASTICACHE_GROUP_ID,
    LOAD_BALANCER_NAME,
    RDS_INSTANCE_ID,
    RDS_SNAPSHOT_ID,
    S3_BUCKET_NAME,
    TARGET_GROUP_NAME,
    NameRule,
    name_problem,
)
from components.eks_releases import EKS_RELEASES

Resource = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    """One declared value the provider would refuse."""

    rule: str
    urn: str
    message: str


@dataclass(frozen=True)
class ApiInput:
    """A Pulumi input and the AWS API parameter it is sent as."""

    type: str
    input: str
    """Dotted path in the engine inputs (camelCase)."""
    service: str
    operation: str
    member: str
    """Dotted path in the operation's input shape."""


API_INPUTS: tuple[ApiInput, ...] = (
    *(
        ApiInput("aws:lb/targetGroup:TargetGroup", i, "elbv2", "CreateTargetGroup", m)
        for i, m in (
            ("port", "Port"),
            ("protocol", "Protocol"),
            ("targetType", "TargetType"),
            ("healthCheck.interval", "HealthCheckIntervalSeconds"),
            ("healthCheck.timeout", "HealthCheckTimeoutSeconds"),
            ("healthCheck.healthyThreshold", "HealthyThresholdCount"),
            ("healthCheck.unhealthyThreshold", "UnhealthyThresholdCount"),
            ("healthCheck.path", "HealthCheckPath"),
            ("healthCheck.protocol", "HealthCheckProtocol"),
        )
    ),
    ApiInput("aws:lb/loadBalancer:LoadBalancer", "loadBalancerType", "elbv2",
             "CreateLoadBalancer", "Type"),
    ApiInput("aws:lb/loadBalancer:LoadBalancer", "ipAddressType", "elbv2",
             "CreateLoadBalancer", "IpAddressType"),
    ApiInput("aws:lb/listener:Listener", "port", "elbv2", "CreateListener", "Port"),
    ApiInput("aws:lb/listener:Listener", "protocol", "elbv2", "CreateListener", "Protocol"),
    ApiInput("aws:eks/cluster:Cluster", "name", "eks", "CreateCluster", "name"),
    *(
        ApiInput("aws:eks/nodeGroup:NodeGroup", i, "eks", "CreateNodegroup", m)
        for i, m in (
            ("capacityType", "capacityType"),
            ("amiType", "amiType"),
            ("scalingConfig.minSize", "scalingConfig.minSize"),
            ("scalingConfig.maxSize", "scalingConfig.maxSize"),
            ("scalingConfig.desiredSize", "scalingConfig.desiredSize"),
        )
    ),
    ApiInput("aws:ecr/repository:Repository", "name", "ecr", "CreateRepository",
             "repositoryName"),
    ApiInput("aws:ecr/repository:Repository", "imageTagMutability", "ecr", "CreateRepository",
             "imageTagMutability"),
    ApiInput("aws:iam/role:Role", "name", "iam", "CreateRole", "RoleName"),
    ApiInput("aws:iam/role:Role", "maxSessionDuration", "iam", "CreateRole",
             "MaxSessionDuration"),
    ApiInput("aws:cloudwatch/logGroup:LogGroup", "name", "logs", "CreateLogGroup",
             "logGroupName"),
    ApiInput("aws:kms/alias:Alias", "name", "kms", "CreateAlias", "AliasName"),
    ApiInput("aws:kms/key:Key", "deletionWindowInDays", "kms", "ScheduleKeyDeletion",
             "PendingWindowInDays"),
    ApiInput("aws:elasticache/replicationGroup:ReplicationGroup", "transitEncryptionMode",
             "elasticache", "CreateReplicationGroup", "TransitEncryptionMode"),
    ApiInput("aws:elasticache/replicationGroup:ReplicationGroup", "networkType",
             "elasticache", "CreateReplicationGroup", "NetworkType"),
    ApiInput("aws:elasticache/replicationGroup:ReplicationGroup", "authTokenUpdateStrategy",
             "elasticache", "ModifyReplicationGroup", "AuthTokenUpdateStrategy"),
)


@functools.cache
def _session() -> Any:
    import botocore.session  # late: only the offline check needs the models

    return botocore.session.get_session()


@functools.cache
def api_shape(service: str, operation: str, member: str) -> Any:
    """botocore's shape of one API parameter (its metadata holds min, max, pattern, enum)."""
    shape = _session().get_service_model(service).operation_model(operation).input_shape
    for part in member.split("."):
        shape = shape.members[part]
    return shape


def _get(inputs: dict[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def shape_problem(shape: Any, value: Any) -> str | None:
    """Why ``value`` breaks the botocore shape's constraints, or None."""
    meta, enum = shape.metadata, getattr(shape, "enum", None) or []
    if shape.type_name == "integer":
        number = int(value)
        low, high = meta.get("min"), meta.get("max")
        if (low is not None and number < low) or (high is not None and number > high):
            span = f"{low if low is not None else '-inf'} to {high if high is not None else 'inf'}"
            return f"{number} is outside {span}"
        return None
    if shape.type_name != "string" or not isinstance(value, str):
        return None
    if enum and value not in enum:
        return f"{value!r} is not one of {', '.join(enum)}"
    low, high = meta.get("min"), meta.get("max")
    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
        return f"{value!r} has {len(value)} characters; allowed {low} to {high}"
    pattern = meta.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        return f"{value!r} does not match the pattern {pattern}"
    return None


def api_model_findings(resources: list[Resource]) -> list[Finding]:
    """Inputs outside the range, length, pattern or enum of the API parameter they become."""
    found = []
    for spec in API_INPUTS:
        shape = api_shape(spec.service, spec.operation, spec.member)
        for r in _of(resources, spec.type):
            value = _get(r["inputs"], spec.input)
            if value is None or value in ("[secret]", "[unknown]"):
                continue
            problem = shape_problem(shape, value)
            if problem:
                found.append(Finding(
                    "api-model", r["urn"],
                    f"{r['name']}: {spec.input} {problem} ({spec.service} {spec.operation} "
                    f"{spec.member}, botocore's service model)",
                ))
    return found


def _of(resources: Iterable[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r["type"] in types]


def _name_findings(rule_name: str, rule: NameRule, resources: list[Resource], type_: str,
                   field: str, autonamed: bool = False) -> list[Finding]:
    found = []
    for r in _of(resources, type_):
        value = r["inputs"].get(field)
        if not isinstance(value, str) and autonamed:
            # Pulumi names it: the logical name plus its 8-character suffix must fit.
            value = r["name"] + "-" + "x" * (AUTONAME_SUFFIX - 1)
        if isinstance(value, str) and value not in ("[secret]", "[unknown]"):
            problem = name_problem(rule, value)
            if problem:
                found.append(Finding(rule_name, r["urn"], f"{r['name']}: {problem}"))
    return found


def name_findings(resources: list[Resource]) -> list[Finding]:
    """Identifiers and names against the documented rules the API models omit."""
    rds = "aws:rds/instance:Instance"
    return [
        *_name_findings("rds-identifier", RDS_INSTANCE_ID, resources, rds, "identifier"),
        *_name_findings("rds-identifier", RDS_SNAPSHOT_ID, resources, rds,
                        "finalSnapshotIdentifier"),
        *_name_findings("elasticache-group-id", ELASTICACHE_GROUP_ID, resources,
                        "aws:elasticache/replicationGroup:ReplicationGroup",
                        "replicationGroupId"),
        *_name_findings("elb-name", LOAD_BALANCER_NAME, resources,
                        "aws:lb/loadBalancer:LoadBalancer", "name", autonamed=True),
        *_name_findings("elb-name", TARGET_GROUP_NAME, resources,
                        "aws:lb/targetGroup:TargetGroup", "name", autonamed=True),
        *_name_findings("s3-bucket-name", S3_BUCKET_NAME, resources,
                        "aws:s3/bucket:Bucket", "bucket", autonamed=True),
        *_name_findings("s3-bucket-name", S3_BUCKET_NAME, resources,
                        "aws:s3/bucketV2:BucketV2", "bucket", autonamed=True),
    ]


# Postgres parameters whose change needs a restart (context "postmaster"): RDS refuses
# apply_method "immediate" for them. The ones the kit sets, and their usual neighbours.
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.html
# https://www.postgresql.org/docs/current/view-pg-settings.html (context = postmaster)
STATIC_POSTGRES_PARAMETERS = frozenset({
    "max_connections", "shared_preload_libraries", "shared_buffers", "max_worker_processes",
    "max_wal_senders", "max_replication_slots", "wal_buffers", "max_locks_per_transaction",
    "max_prepared_transactions", "track_activity_query_size", "huge_pages",
})


def static_parameter_findings(resources: list[Resource]) -> list[Finding]:
    """Static RDS parameters must use apply_method pending-reboot."""
    found = []
    for group in _of(resources, "aws:rds/parameterGroup:ParameterGroup"):
        for param in group["inputs"].get("parameters") or []:
            if param.get("name") in STATIC_POSTGRES_PARAMETERS and (
                param.get("applyMethod") != "pending-reboot"
            ):
                found.append(Finding(
                    "rds-static-parameter", group["urn"],
                    f"{group['name']}: {param['name']} is a static parameter; RDS requires "
                    f"apply_method pending-reboot, not {param.get('applyMethod')!r} "
                    "(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
                    "USER_WorkingWithParamGroups.html)",
                ))
    return found


def pending_reboot_parameters(resources: list[Resource]) -> dict[str, dict[str, str]]:
    """Static parameters by parameter group name: a change to any applies at the next reboot."""
    return {
        group["name"]: {
            p["name"]: p.get("value", "")
            for p in group["inputs"].get("parameters") or []
            if p.get("applyMethod") == "pending-reboot"
        }
        for group in _of(resources, "aws:rds/parameterGroup:ParameterGroup")
    }


def replica_source_findings(resources: list[Resource]) -> list[Finding]:
    """A read replica's source must keep automated backups (retention above 0)."""
    instances = _of(resources, "aws:rds/instance:Instance")
    by_id = {r["inputs"].get("identifier"): r for r in instances}
    found = []
    for replica in instances:
        source_id = replica["inputs"].get("replicateSourceDb")
        if not source_id:
            continue
        source = by_id.get(source_id)
        if source is None or int(source["inputs"].get("backupRetentionPeriod") or 0) <= 0:
            found.append(Finding(
                "rds-replica-source-backups", replica["urn"],
                f"{replica['name']}: its source {source_id!r} must have backupRetentionPeriod "
                "above 0; RDS creates read replicas only from a source with automated backups "
                "(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
                "USER_PostgreSQL.Replication.ReadReplicas.html)",
            ))
    return found


def final_snapshot_findings(resources: list[Resource]) -> list[Finding]:
    """A final snapshot id must be new for each destroy: it carries the suffix of a RandomId
    made with the instance (a fixed id exists after the first destroy and RDS refuses it)."""
    suffixes = {
        r["name"].removesuffix("-final-snapshot-suffix")
        for r in _of(resources, "random:index/randomId:RandomId")
        if r["name"].endswith("-final-snapshot-suffix")
    }
    found = []
    for db in _of(resources, "aws:rds/instance:Instance"):
        final = db["inputs"].get("finalSnapshotIdentifier")
        if db["inputs"].get("skipFinalSnapshot") or not final:
            continue
        owner = db["name"].removesuffix("-primary")
        if owner not in suffixes or not re.search(r"-final-[0-9a-f]{8}$", str(final)):
            found.append(Finding(
                "rds-final-snapshot-unique", db["urn"],
                f"{db['name']}: finalSnapshotIdentifier {final!r} is fixed; a second destroy "
                "(after the stack is re-created) fails because the snapshot exists. It must "
                "end in the hex of a RandomId made with the instance "
                "(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/"
                "API_DeleteDBInstance.html)",
            ))
    return found


# ElastiCache AUTH tokens: printable ASCII, 16 to 128 characters, none of / " @.
# https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html
AUTH_TOKEN_LENGTH = (16, 128)
AUTH_TOKEN_FORBIDDEN = frozenset('/"@')
RANDOM_DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"  # pulumi-random's default special set


def auth_token_findings(resources: list[Resource]) -> list[Finding]:
    """The generators of ElastiCache auth tokens can only yield tokens AUTH accepts."""
    found = []
    for gen in _of(resources, "random:index/randomPassword:RandomPassword"):
        if not gen["name"].endswith("-auth-token"):
            continue
        inputs = gen["inputs"]
        length = int(inputs.get("length") or 0)
        low, high = AUTH_TOKEN_LENGTH
        if not low <= length <= high:
            found.append(Finding(
                "elasticache-auth-token", gen["urn"],
                f"{gen['name']}: length {length} is outside {low} to {high} "
                "(https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html)",
            ))
        if inputs.get("special", True):
            specials = inputs.get("overrideSpecial") or RANDOM_DEFAULT_SPECIAL
            bad = sorted(set(specials) & AUTH_TOKEN_FORBIDDEN) + sorted(
                c for c in set(specials) if not 33 <= ord(c) <= 126
            )
            if bad:
                found.append(Finding(
                    "elasticache-auth-token", gen["urn"],
                    f"{gen['name']}: may generate {''.join(bad)!r}; AUTH tokens are printable "
                    "ASCII without / \" @ (https://docs.aws.amazon.com/AmazonElastiCache/latest/"
                    "dg/auth.html)",
                ))
    return found


# CloudWatch Logs accepts only these retention values (the API model types it as a plain
# integer). https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = frozenset({
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
})
# KMS: the model allows 1-365, the service 7-30.
# https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html
KMS_DELETION_WINDOW = (7, 30)


def value_set_findings(resources: list[Resource]) -> list[Finding]:
    """Log retention values CloudWatch accepts; KMS deletion windows KMS accepts."""
    found = []
    for group in _of(resources, "aws:cloudwatch/logGroup:LogGroup"):
        days = group["inputs"].get("retentionInDays")
        if days is not None and int(days) not in LOG_RETENTION_DAYS:
            found.append(Finding(
                "log-retention", group["urn"],
                f"{group['name']}: retentionInDays {int(days)} is not one CloudWatch Logs "
                f"accepts ({', '.join(map(str, sorted(LOG_RETENTION_DAYS)))})",
            ))
    low, high = KMS_DELETION_WINDOW
    for key in _of(resources, "aws:kms/key:Key"):
        days = key["inputs"].get("deletionWindowInDays")
        if days is not None and not low <= int(days) <= high:
            found.append(Finding(
                "kms-deletion-window", key["urn"],
                f"{key['name']}: deletionWindowInDays {int(days)} is outside {low} to {high} "
                "(https://docs.aws.amazon.com/kms/latest/APIReference/"
                "API_ScheduleKeyDeletion.html)",
            ))
    return found


def eks_version_findings(resources: list[Resource]) -> list[Finding]:
    """The cluster's version is one the kit's EKS table knows; node groups run the same minor."""
    found = []
    for cluster in _of(resources, "aws:eks/cluster:Cluster"):
        version = cluster["inputs"].get("version")
        if version not in EKS_RELEASES:
            found.append(Finding(
                "eks-version", cluster["urn"],
                f"{cluster['name']}: version {version!r} is not in the kit's EKS table "
                f"({', '.join(EKS_RELEASES)}; components/eks_releases.py)",
            ))
        for group in _of(resources, "aws:eks/nodeGroup:NodeGroup"):
            if group["inputs"].get("version") not in (None, version):
                found.append(Finding(
                    "eks-version", group["urn"],
                    f"{group['name']}: version {group['inputs'].get('version')!r} differs from "
                    f"the cluster's {version!r}",
                ))
    return found


# Cloudflare: TTL 1 means automatic; otherwise 30 (Enterprise) or 60 to 86400 seconds; a proxied
# record's TTL is always automatic. https://developers.cloudflare.com/dns/manage-dns-records/reference/ttl/
CLOUDFLARE_TTL = (60, 86400)


def cloudflare_findings(resources: list[Resource]) -> list[Finding]:
    """DNS records with a TTL Cloudflare accepts, and proxied records on automatic TTL."""
    found = []
    low, high = CLOUDFLARE_TTL
    for record in _of(resources, "cloudflare:index/dnsRecord:DnsRecord"):
        ttl = int(record["inputs"].get("ttl") or 1)
        if record["inputs"].get("proxied") and ttl != 1:
            found.append(Finding(
                "cloudflare-ttl", record["urn"],
                f"{record['name']}: a proxied record's ttl must be 1 (automatic), not {ttl} "
                "(https://developers.cloudflare.com/dns/manage-dns-records/reference/ttl/)",
            ))
        elif ttl != 1 and not low <= ttl <= high:
            found.append(Finding(
                "cloudflare-ttl", record["urn"],
                f"{record['name']}: ttl {ttl} is neither 1 (automatic) nor {low} to {high} "
                "(https://developers.cloudflare.com/dns/manage-dns-records/reference/ttl/)",
            ))
    return found


CHECKS: tuple[Callable[[list[Resource]], list[Finding]], ...] = (
    api_model_findings,
    name_findings,
    static_parameter_findings,
    replica_source_findings,
    final_snapshot_findings,
    auth_token_findings,
    value_set_findings,
    eks_version_findings,
    cloudflare_findings,
)


def provider_findings(resources: list[Resource]) -> list[Finding]:
    """Every finding of every check, in check order."""
    return [finding for check in CHECKS for finding in check(resources)]
