"""quintet's guardrails as plain functions over a stack's resources.

Each rule takes every resource of a stack (type, name, URN, props as the engine sees them, in
camelCase) and returns its violations. No Pulumi runtime is needed, so the same rules run in the
policy pack (``policies/__main__.py``, what ``pulumi preview --policy-pack policies`` loads) and
in the tests against the offline plan.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from components.eks_releases import release_of

OPEN_CIDRS = ("0.0.0.0/0", "::/0")
WEB_PORTS = (80, 443)
REQUIRED_EKS_LOGS = ("api", "audit", "authenticator")
POD_TEMPLATE_KINDS = {
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job",
}


@dataclass(frozen=True)
class Resource:
    """One resource of the stack, as a rule sees it."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    """A broken rule: which resource (URN, or None for the stack) and why."""

    urn: str | None
    message: str


@dataclass(frozen=True)
class Rule:
    """A named guardrail; a ``dated`` one also takes today's date (tests pass a fixed one)."""

    name: str
    description: str
    check: Callable[..., list[Violation]]
    dated: bool = False

    def run(self, resources: list[Resource], today: date) -> list[Violation]:
        """The rule's violations on a stack, as of ``today``."""
        return self.check(resources, today) if self.dated else self.check(resources)


def _of(resources: Iterable[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type in types]


def stack_tier(resources: list[Resource]) -> str:
    """The stack's tier, from the AWS provider's default tags (else the stack name in URNs)."""
    for provider in _of(resources, "pulumi:providers:aws"):
        tags = provider.props.get("defaultTags")
        if isinstance(tags, str):
            tags = json.loads(tags)
        tier = ((tags or {}).get("tags") or {}).get("quintet.io/tier")
        if tier:
            return str(tier)
    for r in resources:
        return r.urn.split(":")[2].split("::")[0] if r.urn.startswith("urn:pulumi:") else ""
    return ""


def edge_enabled(resources: list[Resource]) -> bool:
    """True when Cloudflare fronts the ALB (the stack declares proxied DNS records)."""
    return any(
        r.props.get("proxied") for r in _of(resources, "cloudflare:index/dnsRecord:DnsRecord")
    )


def _set(value: Any) -> bool:
    return value not in (None, "", [], {})


def rds_encrypted_and_private(resources: list[Resource]) -> list[Violation]:
    """RDS instances: storage encrypted (replicas inherit it) and never publicly accessible."""
    found = []
    for db in _of(resources, "aws:rds/instance:Instance"):
        replica = _set(db.props.get("replicateSourceDb"))
        if not replica and db.props.get("storageEncrypted") is not True:
            found.append(Violation(db.urn, f"{db.name}: storageEncrypted must be true"))
        if db.props.get("publiclyAccessible") is True:
            found.append(Violation(db.urn, f"{db.name}: publiclyAccessible must be false"))
    return found


def elasticache_encrypted_private_with_auth(resources: list[Resource]) -> list[Violation]:
    """ElastiCache groups: at-rest and in-transit encryption, an auth token, inside a VPC."""
    found = []
    for group in _of(resources, "aws:elasticache/replicationGroup:ReplicationGroup"):
        for prop in ("atRestEncryptionEnabled", "transitEncryptionEnabled"):
            if group.props.get(prop) not in (True, "true"):
                found.append(Violation(group.urn, f"{group.name}: {prop} must be true"))
        if not _set(group.props.get("authToken")):
            found.append(Violation(group.urn, f"{group.name}: authToken must be set"))
        if not _set(group.props.get("subnetGroupName")):
            found.append(Violation(group.urn, f"{group.name}: must live in a VPC subnet group"))
    return found


def prod_database_durability(resources: list[Resource]) -> list[Violation]:
    """In prod the primary has deletion protection, Multi-AZ and 7+ days of backups."""
    if stack_tier(resources) != "prod":
        return []
    found = []
    for db in _of(resources, "aws:rds/instance:Instance"):
        if _set(db.props.get("replicateSourceDb")):
            continue
        if db.props.get("deletionProtection") is not True:
            found.append(Violation(db.urn, f"{db.name}: deletionProtection must be true in prod"))
        if db.props.get("multiAz") is not True:
            found.append(Violation(db.urn, f"{db.name}: multiAz must be true in prod"))
        if int(db.props.get("backupRetentionPeriod") or 0) < 7:
            found.append(
                Violation(db.urn, f"{db.name}: backupRetentionPeriod must be 7 days or more")
            )
    return found


def _is_alb_group(resources: list[Resource], group_id: Any) -> bool:
    for sg in _of(resources, "aws:ec2/securityGroup:SecurityGroup"):
        if sg.name.endswith("alb-sg") and group_id in (f"{sg.name}-id", sg.props.get("id")):
            return True
    return False


def no_open_ingress(resources: list[Resource]) -> list[Violation]:
    """No security group admits the whole internet, except the ALB's 80/443 with no edge."""
    allow_web = not edge_enabled(resources)
    found = []
    for rule in _of(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        if rule.props.get("cidrIpv4") not in OPEN_CIDRS and rule.props.get("cidrIpv6") not in (
            OPEN_CIDRS
        ):
            continue
        web = rule.props.get("fromPort") in WEB_PORTS and rule.props.get("toPort") == (
            rule.props.get("fromPort")
        )
        if allow_web and web and _is_alb_group(resources, rule.props.get("securityGroupId")):
            continue
        found.append(Violation(rule.urn, f"{rule.name}: ingress open to the internet"))
    for sg in _of(resources, "aws:ec2/securityGroup:SecurityGroup"):
        for ingress in sg.props.get("ingress") or []:
            cidrs = [*(ingress.get("cidrBlocks") or []), *(ingress.get("ipv6CidrBlocks") or [])]
            if any(c in OPEN_CIDRS for c in cidrs):
                found.append(Violation(sg.urn, f"{sg.name}: inline ingress open to the internet"))
    return found


def eks_secrets_encryption_and_logging(resources: list[Resource]) -> list[Violation]:
    """EKS clusters: envelope encryption of secrets with KMS and control-plane logging."""
    found = []
    for cluster in _of(resources, "aws:eks/cluster:Cluster"):
        config = cluster.props.get("encryptionConfig") or {}
        if "secrets" not in (config.get("resources") or []) or not _set(
            (config.get("provider") or {}).get("keyArn")
        ):
            found.append(Violation(cluster.urn, f"{cluster.name}: secrets must be KMS-encrypted"))
        logs = set(cluster.props.get("enabledClusterLogTypes") or [])
        missing = [t for t in REQUIRED_EKS_LOGS if t not in logs]
        if missing:
            found.append(
                Violation(cluster.urn, f"{cluster.name}: control-plane logs missing {missing}")
            )
    return found


def _pod_spec(resource: Resource) -> Mapping[str, Any]:
    spec = resource.props.get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def containers_non_root_with_limits(resources: list[Resource]) -> list[Violation]:
    """Every container runs as non-root and has resource limits."""
    found = []
    for workload in [r for r in resources if r.type in POD_TEMPLATE_KINDS]:
        pod = _pod_spec(workload)
        pod_non_root = (pod.get("securityContext") or {}).get("runAsNonRoot") is True
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            who = f"{workload.name}/{container.get('name')}"
            context = container.get("securityContext") or {}
            if not (context.get("runAsNonRoot") is True or pod_non_root) or (
                context.get("runAsUser") == 0
            ):
                found.append(Violation(workload.urn, f"{who}: must run as non-root"))
            limits = (container.get("resources") or {}).get("limits") or {}
            if not limits.get("memory") or not limits.get("cpu"):
                found.append(Violation(workload.urn, f"{who}: needs cpu and memory limits"))
    return found


def alb_listeners_https_or_redirect(resources: list[Resource]) -> list[Violation]:
    """ALB listeners either serve HTTPS or redirect to it."""
    found = []
    for listener in _of(resources, "aws:lb/listener:Listener", "aws:alb/listener:Listener"):
        if listener.props.get("protocol") == "HTTPS":
            continue
        actions = listener.props.get("defaultActions") or []
        redirects = [
            a for a in actions
            if a.get("type") == "redirect" and (a.get("redirect") or {}).get("protocol") == "HTTPS"
        ]
        if not actions or len(redirects) != len(actions):
            found.append(
                Violation(listener.urn, f"{listener.name}: must be HTTPS or redirect to HTTPS")
            )
    return found


def eks_version_in_standard_support(resources: list[Resource], today: date) -> list[Violation]:
    """EKS clusters run a version the kit knows, still in EKS standard support on ``today``."""
    found = []
    for cluster in _of(resources, "aws:eks/cluster:Cluster"):
        version = str(cluster.props.get("version"))
        release = release_of(version)
        if release is None:
            found.append(Violation(
                cluster.urn, f"{cluster.name}: Kubernetes {version} is not in the kit's EKS table"
            ))
        elif today >= release.end_of_standard_support:
            found.append(Violation(
                cluster.urn,
                f"{cluster.name}: Kubernetes {version} left EKS standard support on "
                f"{release.end_of_standard_support.isoformat()}; upgrade (docs/runbook.md)",
            ))
    return found


BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"
)


def _configs_of(resources: list[Resource], type_token: str, bucket: Resource) -> list[Resource]:
    """The bucket's sub-resources of one type (they name it by id, or by its name)."""
    refs = {f"{bucket.name}-id", bucket.props.get("id"), bucket.props.get("bucket")} - {None}
    return [r for r in _of(resources, type_token) if r.props.get("bucket") in refs]


def s3_buckets_private(resources: list[Resource]) -> list[Violation]:
    """S3 buckets: a public access block with all four switches on, and no public ACL."""
    found = []
    for bucket in _of(resources, BUCKET):
        blocks = _configs_of(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                             bucket)
        if not any(all(b.props.get(f) is True for f in PUBLIC_ACCESS_FLAGS) for b in blocks):
            found.append(Violation(bucket.urn, f"{bucket.name}: public access must be blocked "
                                   f"({', '.join(PUBLIC_ACCESS_FLAGS)} all true)"))
        if str(bucket.props.get("acl") or "private") != "private":
            found.append(Violation(bucket.urn, f"{bucket.name}: acl must be private"))
    return found


def s3_buckets_kms_encrypted(resources: list[Resource]) -> list[Violation]:
    """S3 buckets: default encryption is SSE-KMS with a named customer key."""
    found = []
    for bucket in _of(resources, BUCKET):
        configs = _configs_of(
            resources,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            bucket,
        )
        defaults = [
            (rule.get("applyServerSideEncryptionByDefault") or {})
            for c in configs for rule in (c.props.get("rules") or [])
        ]
        if not any(
            d.get("sseAlgorithm") == "aws:kms" and _set(d.get("kmsMasterKeyId")) for d in defaults
        ):
            found.append(Violation(
                bucket.urn, f"{bucket.name}: default encryption must be aws:kms with a key"
            ))
    return found


def _denies_plain_http(statement: Mapping[str, Any]) -> bool:
    condition = (statement.get("Condition") or {}).get("Bool") or {}
    resources = statement.get("Resource") or []
    resources = [resources] if isinstance(resources, str) else list(resources)
    # Both the bucket and its objects: a deny on the bucket ARN alone leaves every object
    # readable and writable over plain HTTP.
    covers = any(str(r).endswith("/*") for r in resources) and any(
        not str(r).endswith("/*") for r in resources)
    return (
        statement.get("Effect") == "Deny"
        and statement.get("Principal") in ("*", {"AWS": "*"})
        and statement.get("Action") in ("s3:*", ["s3:*"])
        and str(condition.get("aws:SecureTransport")).lower() == "false"
        and covers
    )


def s3_buckets_tls_only(resources: list[Resource]) -> list[Violation]:
    """S3 buckets: the bucket policy denies every request with aws:SecureTransport false."""
    found = []
    for bucket in _of(resources, BUCKET):
        statements = []
        for policy in _configs_of(resources, "aws:s3/bucketPolicy:BucketPolicy", bucket):
            document = policy.props.get("policy") or "{}"
            if isinstance(document, str):
                document = json.loads(document)
            statements.extend(document.get("Statement") or [])
        if not any(_denies_plain_http(s) for s in statements):
            found.append(Violation(bucket.urn, f"{bucket.name}: bucket policy must deny requests "
                                   "without TLS (aws:SecureTransport false)"))
    return found


RULES: tuple[Rule, ...] = (
    Rule("rds-encrypted-private", "RDS storage encrypted, not public", rds_encrypted_and_private),
    Rule(
        "elasticache-encrypted-auth",
        "ElastiCache encrypted at rest and in transit, auth on, VPC only",
        elasticache_encrypted_private_with_auth,
    ),
    Rule(
        "prod-database-durability",
        "prod: deletion protection, Multi-AZ, backups of 7 days or more",
        prod_database_durability,
    ),
    Rule(
        "no-open-ingress",
        "no security group open to the internet but the ALB's 80/443 without the edge",
        no_open_ingress,
    ),
    Rule(
        "eks-secrets-encryption-logging",
        "EKS secrets envelope encryption and control-plane logging",
        eks_secrets_encryption_and_logging,
    ),
    Rule(
        "containers-non-root-limits",
        "containers run as non-root with cpu and memory limits",
        containers_non_root_with_limits,
    ),
    Rule(
        "alb-listeners-https",
        "ALB listeners serve HTTPS or redirect to it",
        alb_listeners_https_or_redirect,
    ),
    Rule(
        "eks-standard-support",
        "EKS runs a Kubernetes version still in standard support (the kit's EKS calendar)",
        eks_version_in_standard_support,
        dated=True,
    ),
    Rule("s3-bucket-private", "S3 buckets block public access", s3_buckets_private),
    Rule("s3-bucket-encrypted", "S3 buckets encrypt with SSE-KMS", s3_buckets_kms_encrypted),
    Rule(
        "s3-bucket-tls-only", "S3 bucket policies deny requests without TLS", s3_buckets_tls_only
    ),
)


def check_all(resources: list[Resource], today: date | None = None) -> dict[str, list[Violation]]:
    """Runs every rule as of ``today`` (default: the real date); the violations by rule name."""
    when = today or date.today()
    return {rule.name: rule.run(resources, when) for rule in RULES}
