"""Prices every resource of an offline plan: line items per component, and what is unpriced.

Each resource type the kit declares is either priced by a function below, listed in FREE with
the reason it costs nothing by itself, or reported as unpriced (never counted as 0). Node pools
are priced at their minimum and at their maximum scale; everything else has one figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from offline.cost.prices import PriceTable
from offline.cost.usage import Usage
from offline.snapshot import component_of

DAYS_PER_MONTH = 30.42


@dataclass(frozen=True)
class LineItem:
    """One priced quantity of one resource."""

    component: str
    resource: str
    item: str
    monthly_min: float
    monthly_max: float
    basis: str
    """How the figure was made: quantity x unit price, and the assumption it uses if any."""


@dataclass(frozen=True)
class Unpriced:
    """A resource the table cannot price, and why."""

    component: str
    resource: str
    reason: str


@dataclass
class Estimate:
    """The priced line items of a plan, and the resources left unpriced."""

    stack: str
    region: str
    items: list[LineItem] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)

    @property
    def monthly_min(self) -> float:
        """Total per month with every node pool at its minimum."""
        return sum(i.monthly_min for i in self.items)

    @property
    def monthly_max(self) -> float:
        """Total per month with every node pool at its maximum."""
        return sum(i.monthly_max for i in self.items)

    def by_component(self) -> dict[str, tuple[float, float]]:
        """Monthly (min, max) per top-level component."""
        totals: dict[str, tuple[float, float]] = {}
        for item in self.items:
            low, high = totals.get(item.component, (0.0, 0.0))
            totals[item.component] = (low + item.monthly_min, high + item.monthly_max)
        return totals


class _NoPrice(Exception):
    """Raised by a pricer when the table lacks a row it needs."""


FREE: dict[str, str] = {
    "pulumi:providers:": "a provider, not a resource",
    "quintet:": "a component groups resources; its children are priced",
    "random:": "generated locally",
    "kubernetes:": "runs on the node pools priced above (volumes and load balancers aside)",
    "cloudflare:": "included in the zone plan (priced as an assumption under the edge)",
    "aws:iam/": "IAM is free",
    "aws:ec2/vpc:Vpc": "free",
    "aws:ec2/subnet:Subnet": "free",
    "aws:ec2/routeTable:RouteTable": "free",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "free",
    "aws:ec2/route:Route": "free",
    "aws:ec2/internetGateway:InternetGateway": "free (data out is billed on the instances)",
    "aws:ec2/securityGroup:SecurityGroup": "free",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "free",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "free",
    "aws:ec2/launchTemplate:LaunchTemplate": "its volumes are priced on the node pools",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "free",
    "aws:eks/addon:Addon": "EKS add-ons are free; they run on the node pools",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": "free",
    "aws:elasticache/parameterGroup:ParameterGroup": "free",
    "aws:elasticache/subnetGroup:SubnetGroup": "free",
    "aws:rds/parameterGroup:ParameterGroup": "free",
    "aws:rds/subnetGroup:SubnetGroup": "free",
    "aws:kms/alias:Alias": "free",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "bucket configuration is free",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "bucket configuration is free",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket configuration is free (the KMS key is priced on its own)"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": (
        "bucket configuration is free (kept versions count in uploads_storage_gb)"
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "bucket configuration is free"
    ),
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": "bucket configuration is free",
    "aws:s3/bucketPolicy:BucketPolicy": "bucket configuration is free",
    "aws:lb/listener:Listener": "billed as part of the load balancer",
    "aws:lb/listenerRule:ListenerRule": "billed as part of the load balancer",
    "aws:lb/targetGroup:TargetGroup": "billed as part of the load balancer",
    "aws:acm/certificate:Certificate": "public ACM certificates are free",
    "aws:acm/certificateValidation:CertificateValidation": "free",
    "aws:sns/topic:Topic": "alarm notifications stay within SNS's free tier",
    "aws:sns/topicSubscription:TopicSubscription": "free",
}


BILLED_KUBERNETES = ("kubernetes:core/v1:PersistentVolumeClaim",
                     "kubernetes:networking.k8s.io/v1:Ingress")
"""Kubernetes objects that make AWS create something billed (an EBS volume, an ALB)."""


def _free_reason(rtype: str) -> str | None:
    if rtype in BILLED_KUBERNETES:
        return None
    for prefix, reason in FREE.items():
        if rtype == prefix or rtype.startswith(prefix):
            return reason
    return None


@dataclass
class _Context:
    prices: PriceTable
    usage: Usage
    resources: list[dict]
    by_urn: dict[str, dict]
    hours: float
    count_of: dict[str, int]

    def price(self, key: str) -> float:
        row = self.prices.get(key)
        if row is None:
            raise _NoPrice(f"no price for {key} in {self.prices.path.name}")
        return row.usd

    def per_type(self, rtype: str) -> int:
        return self.count_of.get(rtype, 0)


Pricer = Callable[[dict, _Context], list[tuple[str, float, float, str]]]


def _fixed(item: str, usd: float, basis: str) -> tuple[str, float, float, str]:
    return (item, usd, usd, basis)


def _eks_cluster(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    hour = ctx.price("eks.cluster.standard.hour")
    return [_fixed("control plane (standard support)", hour * ctx.hours,
                   f"{ctx.hours:.0f} h x ${hour}/h")]


def _node_volume_gb(res: dict, ctx: _Context) -> float:
    template = (res["inputs"].get("launchTemplate") or {}).get("id")
    for other in ctx.resources:
        if other["type"] == "aws:ec2/launchTemplate:LaunchTemplate" and template in (
            other["name"], f"{other['name']}-id"
        ):
            devices = other["inputs"].get("blockDeviceMappings") or []
            return sum(float((d.get("ebs") or {}).get("volumeSize", 0)) for d in devices)
    return float(res["inputs"].get("diskSize") or 20)


def _node_group(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    inputs = res["inputs"]
    if (inputs.get("capacityType") or "ON_DEMAND") != "ON_DEMAND":
        raise _NoPrice(f"capacity type {inputs['capacityType']}: only on-demand is priced")
    instance = (inputs.get("instanceTypes") or ["t3.medium"])[0]
    hour = ctx.price(f"ec2.{instance}.hour")
    scaling = inputs.get("scalingConfig") or {}
    low, high = int(scaling.get("minSize", 1)), int(scaling.get("maxSize", 1))
    gb = _node_volume_gb(res, ctx)
    gb_price = ctx.price("ebs.gp3.gb_month")
    return [
        (f"{instance} nodes ({low} to {high})", low * hour * ctx.hours, high * hour * ctx.hours,
         f"{low}..{high} x {ctx.hours:.0f} h x ${hour}/h (first of instanceTypes)"),
        (f"node volumes gp3 {gb:.0f} GB each", low * gb * gb_price, high * gb * gb_price,
         f"{low}..{high} x {gb:.0f} GB x ${gb_price}/GB-month"),
    ]


def _rds_storage_gb(res: dict, ctx: _Context) -> float:
    inputs = res["inputs"]
    if inputs.get("allocatedStorage"):
        return float(inputs["allocatedStorage"])
    source = inputs.get("replicateSourceDb")
    for other in ctx.resources:
        if other["type"] == res["type"] and other["inputs"].get("identifier") == source:
            return float(other["inputs"].get("allocatedStorage") or 20)
    return 20.0


def _rds_instance(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    inputs = res["inputs"]
    klass = inputs.get("instanceClass", "?")
    engine = inputs.get("engine") or "postgres"
    hour = ctx.price(f"rds.{engine}.{klass}.hour")
    copies = 2 if inputs.get("multiAz") else 1
    az = "Multi-AZ" if copies == 2 else "Single-AZ"
    gb = _rds_storage_gb(res, ctx)
    storage = inputs.get("storageType") or "gp3"
    if storage not in ("gp3", "gp2"):
        raise _NoPrice(f"storage type {storage}: only gp2/gp3 storage is priced")
    gb_price = ctx.price("rds.gp3.gb_month")
    items = [
        _fixed(f"{klass} {az}", copies * hour * ctx.hours,
               f"{copies} x {ctx.hours:.0f} h x ${hour}/h"),
        _fixed(f"storage {gb:.0f} GB {az}", copies * gb * gb_price,
               f"{copies} x {gb:.0f} GB x ${gb_price}/GB-month"),
    ]
    if float(inputs.get("backupRetentionPeriod") or 0) > 0:
        backup = ctx.price("rds.backup.gb_month")
        extra = ctx.usage.rds_backup_gb_beyond_free
        items.append(_fixed("backups beyond the free allowance", extra * backup,
                            f"{extra:g} GB (assumption rds_backup_gb_beyond_free) x "
                            f"${backup}/GB-month"))
    return items


def _replication_group(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    inputs = res["inputs"]
    node = inputs.get("nodeType", "?")
    if inputs.get("numNodeGroups"):  # cluster mode: shards x (replicas + primary)
        nodes = int(inputs["numNodeGroups"]) * (int(inputs.get("replicasPerNodeGroup") or 0) + 1)
    else:
        nodes = int(inputs.get("numCacheClusters") or 1)
    hour = ctx.price(f"elasticache.{node}.hour")
    return [_fixed(f"{nodes} x {node}", nodes * hour * ctx.hours,
                   f"{nodes} x {ctx.hours:.0f} h x ${hour}/h")]


def _load_balancer(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    hour, lcu = ctx.price("elb.alb.hour"), ctx.price("elb.alb.lcu_hour")
    ipv4 = ctx.price("vpc.public_ipv4.hour")
    lcus = ctx.usage.alb_lcu_average
    azs = len(res["inputs"].get("subnets") or []) if not res["inputs"].get("internal") else 0
    return [
        _fixed("load balancer hours", hour * ctx.hours, f"{ctx.hours:.0f} h x ${hour}/h"),
        _fixed("capacity units", lcus * lcu * ctx.hours,
               f"{lcus:g} LCU (assumption alb_lcu_average) x {ctx.hours:.0f} h x ${lcu}/LCU-h"),
        _fixed("public IPv4 addresses", azs * ipv4 * ctx.hours,
               f"{azs} (one per subnet) x {ctx.hours:.0f} h x ${ipv4}/h"),
    ]


def _nat_gateway(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    hour, per_gb = ctx.price("vpc.nat.hour"), ctx.price("vpc.nat.gb")
    nats = max(ctx.per_type(res["type"]), 1)
    gb = ctx.usage.nat_gb_per_month / nats
    return [
        _fixed("gateway hours", hour * ctx.hours, f"{ctx.hours:.0f} h x ${hour}/h"),
        _fixed("data processed", gb * per_gb,
               f"{gb:g} GB (assumption nat_gb_per_month / {nats} NATs) x ${per_gb}/GB"),
    ]


def _eip(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    hour = ctx.price("vpc.public_ipv4.hour")
    return [_fixed("public IPv4 address", hour * ctx.hours, f"{ctx.hours:.0f} h x ${hour}/h")]


def _vpc_endpoint(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    inputs = res["inputs"]
    if (inputs.get("vpcEndpointType") or "Gateway") == "Gateway":
        return [_fixed("gateway endpoint", 0.0, "gateway endpoints are free")]
    hour, per_gb = ctx.price("vpc.endpoint.interface.hour"), ctx.price(
        "vpc.endpoint.interface.gb")
    azs = len(inputs.get("subnetIds") or []) or 1
    interface = [
        other for other in ctx.resources
        if other["type"] == res["type"]
        and (other["inputs"].get("vpcEndpointType") or "Gateway") == "Interface"
    ]
    gb = ctx.usage.vpc_endpoint_gb_per_month / max(len(interface), 1)
    return [
        _fixed(f"interface endpoint in {azs} AZs", azs * hour * ctx.hours,
               f"{azs} x {ctx.hours:.0f} h x ${hour}/h"),
        _fixed("data processed", gb * per_gb,
               f"{gb:g} GB (assumption vpc_endpoint_gb_per_month / {len(interface)}) x "
               f"${per_gb}/GB"),
    ]


def _log_group(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    ingest, store = ctx.price("cloudwatch.logs.ingest.gb"), ctx.price(
        "cloudwatch.logs.store.gb_month")
    groups = max(ctx.per_type(res["type"]), 1)
    per_day = ctx.usage.logs_gb_per_day / groups
    retention = float(res["inputs"].get("retentionInDays") or 0) or 3650.0
    kept = per_day * min(retention, 3650.0)
    return [
        _fixed("ingestion", per_day * DAYS_PER_MONTH * ingest,
               f"{per_day:g} GB/day (assumption logs_gb_per_day / {groups}) x "
               f"{DAYS_PER_MONTH} days x ${ingest}/GB"),
        _fixed(f"storage ({retention:.0f} days kept)", kept * store,
               f"{kept:g} GB x ${store}/GB-month"),
    ]


def _alarm(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    month = ctx.price("cloudwatch.alarm.month")
    return [_fixed("alarm", month, f"${month}/alarm-month")]


def _kms_key(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    month = ctx.price("kms.key.month")
    return [_fixed("customer managed key", month, f"${month}/key-month")]


def _ecr_repository(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    per_gb = ctx.price("ecr.storage.gb_month")
    gb = ctx.usage.ecr_storage_gb
    return [_fixed("image storage", gb * per_gb,
                   f"{gb:g} GB (assumption ecr_storage_gb) x ${per_gb}/GB-month")]


def _s3_bucket(res: dict, ctx: _Context) -> list[tuple[str, float, float, str]]:
    per_gb = ctx.price("s3.standard.gb_month")
    gb = ctx.usage.uploads_storage_gb
    # Requests (a PUT/POST and a HEAD per upload) cost cents per 10,000s: left out.
    return [_fixed("uploads storage", gb * per_gb,
                   f"{gb:g} GB (assumption uploads_storage_gb) x ${per_gb}/GB-month")]


PRICERS: dict[str, Pricer] = {
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:kms/key:Key": _kms_key,
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:s3/bucket:Bucket": _s3_bucket,
}


def plan_region(plan: dict[str, Any]) -> str | None:
    """The AWS region a plan deploys to (its AWS provider's region), None when it has none."""
    for res in plan["resources"]:
        if res["type"] == "pulumi:providers:aws" and res["inputs"].get("region"):
            return str(res["inputs"]["region"])
    return None


def estimate(plan: dict[str, Any], prices: PriceTable, usage: Usage) -> Estimate:
    """Prices every resource of ``plan`` (an offline plan document) with ``prices``."""
    resources = plan["resources"]
    by_urn = {r["urn"]: r for r in resources}
    count_of: dict[str, int] = {}
    for res in resources:
        count_of[res["type"]] = count_of.get(res["type"], 0) + 1
    ctx = _Context(prices, usage, resources, by_urn, prices.hours_per_month, count_of)
    result = Estimate(stack=str(plan.get("stack", "?")), region=prices.region)
    for res in sorted(resources, key=lambda r: r["urn"]):
        component = component_of(res, by_urn)
        label = f"{res['type'].split(':')[-1]} {res['name']}"
        pricer = PRICERS.get(res["type"])
        if pricer is None:
            spec = res["inputs"].get("spec") or {}
            if res["type"] == "kubernetes:core/v1:Service" and spec.get("type") == "LoadBalancer":
                result.unpriced.append(Unpriced(component, label, "a LoadBalancer Service makes "
                                                "AWS create a load balancer the table cannot see"))
                continue
            if _free_reason(res["type"]) is None:
                result.unpriced.append(Unpriced(component, label, f"type {res['type']} has no "
                                                "pricing rule"))
            continue
        try:
            for item, low, high, basis in pricer(res, ctx):
                result.items.append(LineItem(component, label, item, low, high, basis))
        except _NoPrice as missing:
            result.unpriced.append(Unpriced(component, label, str(missing)))
    if any(r["type"].startswith("cloudflare:") for r in resources):
        plan_usd = usage.cloudflare_plan_usd_per_month
        edge = next(component_of(r, by_urn) for r in resources
                    if r["type"].startswith("cloudflare:"))
        result.items.append(LineItem(edge, "Cloudflare zone plan", "plan", plan_usd, plan_usd,
                                     f"${plan_usd:g}/month (assumption "
                                     "cloudflare_plan_usd_per_month)"))
    return result
