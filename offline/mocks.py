"""Runs the real program under Pulumi mocks and records every resource and invoke.

This is the engine of the offline plan and of every infra test: no CLI, no credentials, no
network. Mocks echo inputs back and add the few computed attributes the program reads (ids,
ARNs, endpoints), all deterministic, so two runs record the same bytes.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ACCOUNT_ID = "123456789012"
SECRET_MASK = "[secret]"
UNKNOWN_MASK = "[unknown]"
PROJECT = "quintet"


@dataclass
class RecordedResource:
    """One resource the program registered, as the engine saw it."""

    urn: str
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    provider: str | None
    dependencies: list[str]
    custom: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    ignore_changes: list[str] = field(default_factory=list)
    custom_timeouts: dict[str, str] = field(default_factory=dict)

    @property
    def masked_inputs(self) -> dict[str, Any]:
        """Inputs with every secret replaced by ``[secret]``."""
        return mask_secrets(self.inputs)


@dataclass
class RecordedInvoke:
    """One data-source call (invoke) the program made."""

    token: str
    args: dict[str, Any]


@dataclass
class ProgramRun:
    """Everything one mocked run of the program registered."""

    stack: str
    resources: list[RecordedResource]
    invokes: list[RecordedInvoke]
    stack_outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        """Resources of one type token, e.g. ``aws:ec2/subnet:Subnet``."""
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> RecordedResource:
        """The one resource with this logical name."""
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        """The resource with this URN."""
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children_of(self, parent: RecordedResource) -> list[RecordedResource]:
        """Direct children of a resource."""
        return [r for r in self.resources if r.parent == parent.urn]


def mask_secrets(value: Any) -> Any:
    """Replaces wrapped secrets (and unknowns) anywhere in a value, keeping the rest as is."""
    if rpc.is_rpc_secret(value):
        return SECRET_MASK
    if value is rpc.UNKNOWN or value == rpc.UNKNOWN:
        return UNKNOWN_MASK
    if isinstance(value, dict):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def unwrap_secrets(value: Any) -> Any:
    """The plain value behind wrapped secrets, for mocks that compute outputs from inputs."""
    if rpc.is_rpc_secret(value):
        return unwrap_secrets(value["value"])
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


# Compute and edge: what EKS, the ALB and ACM compute, derived from the inputs only.
MOCK_CA_DATA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCm1vY2sKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
CLOUDFLARE_MOCK_IPV4 = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]
"""Documentation ranges (RFC 5737) standing in for Cloudflare's published IPv4 ranges."""
CLOUDFLARE_MOCK_ZONE = "example.com"


def _eks_cluster(a: pulumi_mocks.MockResourceArgs, region: str) -> dict[str, Any]:
    name = a.inputs.get("name", a.name)
    return {
        "name": name,
        "endpoint": f"https://{name.upper().replace('-', '')}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": MOCK_CA_DATA},
        "identities": [
            {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{name.upper()}"}]}
        ],
        "vpcConfig": {**a.inputs.get("vpcConfig", {}), "clusterSecurityGroupId": f"{name}-sg"},
        "status": "ACTIVE",
    }


def _acm_certificate(a: pulumi_mocks.MockResourceArgs, region: str) -> dict[str, Any]:
    domain = a.inputs["domainName"]
    return {
        "domainValidationOptions": [
            {
                "domainName": domain,
                "resourceRecordName": f"_0f1e2d3c4b5a.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": "_9a8b7c6d5e4f.mock.acm-validations.aws.",
            }
        ],
        "status": "PENDING_VALIDATION",
    }


# Computed attributes by type token: what a real provider would return that the program reads.
ComputedFn = Callable[[pulumi_mocks.MockResourceArgs, str], dict[str, Any]]
COMPUTED: dict[str, ComputedFn] = {
    "aws:ecr/repository:Repository": lambda a, region: {
        "repositoryUrl": (
            f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{a.inputs.get('name', a.name)}"
        ),
        "registryId": ACCOUNT_ID,
    },
    "aws:ec2/vpc:Vpc": lambda a, region: {"defaultSecurityGroupId": f"{a.name}-default-sg"},
    "aws:eks/cluster:Cluster": _eks_cluster,
    # IAM is global and names an auto-named role only once created: give both, as AWS would.
    "aws:iam/role:Role": lambda a, region: {
        "name": a.inputs.get("name", a.name),
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{a.inputs.get('name', a.name)}",
    },
    "aws:ec2/launchTemplate:LaunchTemplate": lambda a, region: {"latestVersion": 1},
    # S3 ARNs carry neither region nor account.
    "aws:s3/bucket:Bucket": lambda a, region: {
        "arn": f"arn:aws:s3:::{a.inputs.get('bucket', a.name)}",
        "bucketRegionalDomainName": f"{a.inputs.get('bucket', a.name)}.s3.{region}.amazonaws.com",
    },
    "aws:lb/loadBalancer:LoadBalancer": lambda a, region: {
        "dnsName": f"{a.name}-1234567890.{region}.elb.amazonaws.com",
        "zoneId": "ZHURV8PSTC4K8",
    },
    "aws:acm/certificate:Certificate": _acm_certificate,
    "aws:rds/instance:Instance": lambda a, region: _rds_instance(a, region),
    # Auto-named resources: the provider picks the name; the program passes it on.
    "aws:rds/parameterGroup:ParameterGroup": lambda a, region: _auto_name(a),
    "aws:rds/subnetGroup:SubnetGroup": lambda a, region: _auto_name(a),
    "aws:elasticache/parameterGroup:ParameterGroup": lambda a, region: _auto_name(a),
    "aws:elasticache/subnetGroup:SubnetGroup": lambda a, region: _auto_name(a),
    "aws:elasticache/replicationGroup:ReplicationGroup": lambda a, region: _replication_group(
        a, region
    ),
    "random:index/randomId:RandomId": lambda a, region: {
        "hex": "0f1e2d3c4b5a6978"[: 2 * int(a.inputs.get("byteLength", 4))],
    },
    # A deterministic stand-in for the generated value (the real one is random and secret).
    "random:index/randomPassword:RandomPassword": lambda a, region: {
        "result": f"mock-{a.name}-" + "x" * max(0, int(a.inputs.get("length", 16)) - 10),
    },
}


def _auto_name(a: pulumi_mocks.MockResourceArgs) -> dict[str, Any]:
    """The name Pulumi's auto-naming would give (logical name plus a suffix), unless set."""
    return {"name": a.inputs.get("name") or f"{a.name}-0000000"}


def _replication_group(a: pulumi_mocks.MockResourceArgs, region: str) -> dict[str, Any]:
    """What ElastiCache computes for a cluster-mode-disabled group: endpoints and node ids."""
    group_id = a.inputs.get("replicationGroupId") or a.name
    return {
        "primaryEndpointAddress": f"master.{group_id}.mock.{region}.cache.amazonaws.com",
        "readerEndpointAddress": f"replica.{group_id}.mock.{region}.cache.amazonaws.com",
        "port": a.inputs.get("port", 6379),
        "memberClusters": [
            f"{group_id}-{n:03d}" for n in range(1, int(a.inputs.get("numCacheClusters", 1)) + 1)
        ],
    }


def _rds_instance(a: pulumi_mocks.MockResourceArgs, region: str) -> dict[str, Any]:
    """What RDS computes for an instance: identifier, address, endpoint and port."""
    identifier = a.inputs.get("identifier") or a.name
    address = f"{identifier}.mock.{region}.rds.amazonaws.com"
    port = a.inputs.get("port", 5432)
    return {
        "identifier": identifier,
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        "resourceId": f"db-{identifier.upper()}",
    }


# Availability zones the mock reports per region (as AWS does today); others get 3.
ZONES_PER_REGION = {"us-east-1": 6, "us-west-2": 4, "eu-west-1": 3, "eu-west-2": 3}

# Answers to data-source calls, by token. An invoke without an answer fails the run, so a new
# data source is never silently mocked as empty.
InvokeFn = Callable[[Mapping[str, Any], str], dict[str, Any]]
INVOKES: dict[str, InvokeFn] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": lambda args, region: {
        "names": [f"{region}{s}" for s in "abcdef"[: ZONES_PER_REGION.get(region, 3)]],
        "zoneIds": [
            f"{region[:3]}{region[-1]}-az{i}"
            for i in range(1, ZONES_PER_REGION.get(region, 3) + 1)
        ],
        "id": region,
        "groupNames": [region],
    },
    "aws:index/getCallerIdentity:getCallerIdentity": lambda args, region: {
        "accountId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
        "userId": "AIDMOCK",
        "id": ACCOUNT_ID,
    },
    "aws:index/getRegion:getRegion": lambda args, region: {
        "name": region, "region": region, "id": region, "description": region, "endpoint": "",
    },
    "aws:index/getPartition:getPartition": lambda args, region: {
        "partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws",
    },
    "cloudflare:index/getIpRanges:getIpRanges": lambda args, region: {
        "ipv4Cidrs": list(CLOUDFLARE_MOCK_IPV4),
        "ipv6Cidrs": ["2001:db8::/32"],
        "jdcloudCidrs": [],
        "etag": "mock",
    },
    "cloudflare:index/getZone:getZone": lambda args, region: {
        "id": args.get("zoneId", ""),
        "zoneId": args.get("zoneId", ""),
        "name": CLOUDFLARE_MOCK_ZONE,
        "status": "active",
        "type": "full",
        "nameServers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
    },
}


class PlanMocks(pulumi_mocks.Mocks):
    """Deterministic mocks: ids from names, inputs echoed, computed attributes from COMPUTED."""

    def __init__(self, region: str, invokes: list[RecordedInvoke]) -> None:
        self.region = region
        self.invokes = invokes

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        """Echoes the inputs back with an id, an ARN and the type's computed attributes."""
        state = dict(args.inputs)
        if args.typ.startswith("aws:"):
            service = args.typ.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{args.name}")
        computed = COMPUTED.get(args.typ)
        if computed is not None:
            state.update(computed(args, self.region))
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict:
        """Answers a data-source call from INVOKES, recording it."""
        self.invokes.append(RecordedInvoke(args.token, unwrap_secrets(dict(args.args))))
        answer = INVOKES.get(args.token)
        if answer is None:
            raise NotImplementedError(f"no mock answer for the invoke {args.token}")
        return answer(unwrap_secrets(args.args), self.region)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also keeps parent, provider and dependencies of each registration."""

    def __init__(self, mocks: PlanMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []

    def RegisterResource(self, request):
        """Records the registration, then lets the stock mock monitor answer it."""
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        provider = request.provider.split("::")
        self.recorded.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                inputs=copy.deepcopy(inputs),
                provider="::".join(provider[:-1]) if len(provider) > 1 else None,
                dependencies=sorted(set(request.dependencies)),
                custom=request.custom,
                outputs=dict(self.resources[response.urn].state),
                ignore_changes=list(request.ignoreChanges),
                custom_timeouts={
                    key: value
                    for key in ("create", "update", "delete")
                    if (value := getattr(request.customTimeouts, key))
                },
            )
        )
        return response


def _ensure_event_loop() -> None:
    """Pulumi's runtime drives the current thread's event loop; asyncio.run() elsewhere in the
    same process (an async test, a tool) leaves none behind, so make one when it is missing."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_program(
    program: Callable[[], None],
    *,
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str],
) -> ProgramRun:
    """Runs ``program`` as a Pulumi program of ``stack`` under mocks and returns what it registered.

    Exceptions from the program (a ``ConfigError`` above all) propagate to the caller.
    """
    _ensure_event_loop()
    region = config.get("aws:region", "eu-west-2")
    invokes: list[RecordedInvoke] = []
    mocks = PlanMocks(region, invokes)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    # A fresh root stack for every run, so runs of several stacks in one process stay apart.
    pulumi_settings.ROOT.set(None)
    pulumi_mocks.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    _sync_await(run_pulumi_func(program))
    # What `pulumi up` prints at its end: the root stack's exports, resolved.
    root = pulumi_settings.get_root_resource()
    stack_outputs = {
        name: _sync_await(pulumi.Output.from_input(value).future())
        for name, value in (getattr(root, "outputs", None) or {}).items()
    }
    stack_urns = {r.urn for r in monitor.recorded}
    for r in monitor.recorded:
        if r.parent not in stack_urns:
            r.parent = None  # the root stack resource
    resources = sorted(monitor.recorded, key=lambda r: r.urn)
    return ProgramRun(
        stack=stack, resources=resources, invokes=invokes, stack_outputs=stack_outputs
    )
