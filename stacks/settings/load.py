"""Turns raw stack config into validated ``Settings``: baseline, then tier preset, then stack file.

Raw config is what the Pulumi engine hands a program: a mapping of ``namespace:key`` to string
values (structured values JSON-encoded), plus the set of keys that are secrets. Every problem is
collected and reported at once, one line each, naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from components.cluster import ami_type_for
from components.eks_releases import EKS_RELEASES, EksRelease
from components.subnets import CidrTooSmall, plan_subnets
from k8s.quantities import BadQuantity, parse_cpu, parse_memory
from stacks.data_rules import data_tier_problems
from stacks.errors import ConfigError
from stacks.settings.fields import CONFIG_NAMESPACE
from stacks.settings.model import TIERS, Settings, WorkloadSettings
from stacks.settings.presets import TIER_PRESETS
from stacks.settings.schema import Leaf, leaves, leaves_by_key

SECRET_WORDS = ("token", "password", "secret", "apikey", "privatekey")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,63}$", re.IGNORECASE)
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_KUBERNETES_VERSION = re.compile(r"^1\.(\d{2})$")
MIN_KUBERNETES_MINOR = 29  # native sidecar containers (PgBouncer beside the web pods) need 1.29
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
# Docker's tag grammar (ECR follows it): a word character, then up to 127 of [\w.-].
_IMAGE_TAG = re.compile(r"^\w[\w.-]{0,127}$")
_IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Tags whose name promises to move: refused, because the repository is IMMUTABLE (a second push
# of the same tag fails) and because a deploy must name one image, not whatever a tag holds now.
MUTABLE_TAGS = frozenset({
    "latest", "main", "master", "trunk", "head", "develop", "dev", "stable", "edge", "nightly",
    "release", "current", "staging", "prod", "production", "test", "canary", "next",
})
# Config keys whose default follows the kubernetesVersion's row of the EKS table.
RELEASE_PINS: dict[str, Any] = {
    "addonVpcCniVersion": lambda r: r.addons["vpc-cni"],
    "addonCorednsVersion": lambda r: r.addons["coredns"],
    "addonKubeProxyVersion": lambda r: r.addons["kube-proxy"],
    "addonPodIdentityAgentVersion": lambda r: r.addons["eks-pod-identity-agent"],
    "chartAwsLoadBalancerControllerVersion": lambda r: r.charts["aws-load-balancer-controller"],
    "chartMetricsServerVersion": lambda r: r.charts["metrics-server"],
    "chartKedaVersion": lambda r: r.charts["keda"],
    "chartClusterAutoscalerVersion": lambda r: r.charts["cluster-autoscaler"],
    "clusterAutoscalerImageTag": lambda r: r.autoscaler_image_tag,
}


def release_pins(release: EksRelease) -> dict[str, str]:
    """The config keys a Kubernetes version's row of the EKS table sets, with their values."""
    return {key: pin(release) for key, pin in RELEASE_PINS.items()}


class _Invalid(ValueError):
    """A value that does not fit its setting; the text says what is allowed."""


def parse_value(leaf: Leaf, raw: Any) -> Any:
    """Converts one raw config value (an engine string, or native YAML) to the leaf type."""
    if leaf.type is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise _Invalid("expected a boolean (true or false)")
    if leaf.type is int:
        if isinstance(raw, bool):
            raise _Invalid("expected a whole number")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
            return int(raw)
        raise _Invalid("expected a whole number")
    if leaf.type is list:
        value = raw
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                raise _Invalid("expected a list of strings, e.g. [\"a\", \"b\"]") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Invalid("expected a list of strings, e.g. [\"a\", \"b\"]")
        return value
    if not isinstance(raw, str):
        raise _Invalid("expected a string")
    return raw


def check_constraints(leaf: Leaf, value: Any) -> None:
    """Raises ``_Invalid`` when a parsed value breaks its setting's range, choices or kind."""
    spec = leaf.spec
    if spec.choices is not None and value not in spec.choices:
        why = f" ({spec.why})" if spec.why else ""
        raise _Invalid(f"allowed: {', '.join(spec.choices)}{why}")
    size = len(value) if leaf.type is list else value  # a list's bounds count its items
    if spec.minimum is not None and size < spec.minimum:
        bound = f"at most {spec.maximum:g}" if spec.maximum is not None else "no upper bound"
        raise _Invalid(f"must be at least {spec.minimum:g} ({bound})")
    if spec.maximum is not None and size > spec.maximum:
        raise _Invalid(f"must be at most {spec.maximum:g}")
    if spec.kind == "email-list":
        for item in value:
            if not _EMAIL.match(item):
                raise _Invalid(f"{item!r} is not an email address such as ops@example.com")
    # A list whose own default is empty (e.g. optional subscribers) may be set empty.
    if leaf.type is list and spec.minimum is None and not value and leaf.default:
        raise _Invalid("must list at least one value")
    if spec.kind == "cidr":
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise _Invalid("expected an IPv4 CIDR with host bits zero, e.g. 10.40.0.0/16") from None
        if net.version != 4 or not 16 <= net.prefixlen <= 24:
            raise _Invalid("expected an IPv4 CIDR between /16 and /24 (the range a VPC allows)")
    if spec.kind == "dns-name" and not _DNS_NAME.match(value):
        raise _Invalid("expected a lower-case DNS name such as www.example.com")
    if spec.kind == "cidr-list":
        for item in value:
            try:
                ipaddress.IPv4Network(item, strict=True)
            except ValueError:
                raise _Invalid(
                    f"{item!r} is not an IPv4 CIDR with host bits zero, e.g. 203.0.113.0/24"
                ) from None
    if spec.kind == "kubernetes-version":
        match = _KUBERNETES_VERSION.match(value)
        if not match:
            raise _Invalid("expected MAJOR.MINOR such as 1.35")
        if int(match.group(1)) < MIN_KUBERNETES_MINOR:
            raise _Invalid(
                f"must be 1.{MIN_KUBERNETES_MINOR} or newer (native sidecar containers need it)"
            )
        if value not in EKS_RELEASES:
            raise _Invalid(
                f"the kit's EKS table knows {', '.join(EKS_RELEASES)}; add a row for {value} "
                "(support dates, add-ons, charts, autoscaler image) to components/eks_releases.py"
            )
    if spec.kind == "image-tag":
        _check_image_tag(value)
    if spec.kind == "image-digest" and value and not _IMAGE_DIGEST.match(value):
        raise _Invalid("expected sha256: and 64 lower-case hex digits, as `docker push` prints")


def _check_image_tag(value: str) -> None:
    """Unset is allowed (first deploy); a mutable name or a malformed tag is not."""
    if not value:
        return
    if value.lower() in MUTABLE_TAGS:
        raise _Invalid(
            "a tag mutable by name is refused (the ECR repository is IMMUTABLE and a deploy "
            "must name one image); use the commit sha, e.g. $(git rev-parse --short=12 HEAD), "
            "or set quintet:imageDigest"
        )
    if not _IMAGE_TAG.match(value):
        raise _Invalid(
            "expected a Docker tag: letters, digits, '_', '.', '-', at most 128, not starting "
            "with '.' or '-' (put a digest in quintet:imageDigest)"
        )


def _section_keys() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    for leaf in leaves():
        if len(leaf.path) > 1:
            sections.setdefault(leaf.path[0], []).append(leaf.key)
    return sections


def _unknown_key_problem(full_key: str) -> str:
    key = full_key.split(":", 1)[1]
    known = list(leaves_by_key())
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {CONFIG_NAMESPACE}:{close[0]}?" if close else ""
    sections = _section_keys()
    near = difflib.get_close_matches(key.lower(), list(sections), n=1, cutoff=0.7)
    if not close and near:
        hint = f"; {near[0]} settings are flat keys: {', '.join(sections[near[0]])}"
    return (
        f"{full_key}: unknown key{hint} (known keys are listed in docs/configuration.md, "
        f"e.g. {', '.join(known[:4])}, ...)"
    )


def _must_be_secret(full_key: str) -> bool:
    """A key declared secret in the model, or any key whose name says it holds a secret."""
    namespace, _, key = full_key.partition(":")
    leaf = leaves_by_key().get(key) if namespace == CONFIG_NAMESPACE else None
    flat = full_key.lower().replace("_", "").replace("-", "")
    return bool(leaf and leaf.spec.secret) or any(word in flat for word in SECRET_WORDS)


def _set_path(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


def _build(cls: type, tree: Mapping[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in tree:
            continue
        if f.metadata.get("section"):
            kwargs[f.name] = _build(f.default_factory().__class__, tree[f.name])  # type: ignore[misc]
        else:
            kwargs[f.name] = tree[f.name]
    return cls(**kwargs)


def load_settings(raw: Mapping[str, Any], secret_keys: Collection[str] = ()) -> Settings:
    """Validates raw stack config and returns the stack's settings, or raises ``ConfigError``."""
    by_key = leaves_by_key()
    plain_secrets = [k for k in raw if _must_be_secret(k) and k not in secret_keys]
    # The value itself is never echoed: it was meant to be secret.
    problems = [
        f"{k}: a plain-text value is not allowed for a secret; "
        f"set it with `pulumi config set --secret {k} <value>`"
        for k in plain_secrets
    ]
    ours = {
        k: v for k, v in raw.items()
        if k.startswith(f"{CONFIG_NAMESPACE}:") and k not in plain_secrets
    }
    values: dict[str, Any] = {}
    for full_key, value in ours.items():
        key = full_key.split(":", 1)[1]
        leaf = by_key.get(key)
        if leaf is None:
            problems.append(_unknown_key_problem(full_key))
            continue
        try:
            parsed = parse_value(leaf, value)
            check_constraints(leaf, parsed)
        except _Invalid as bad:
            shown = "[secret]" if full_key in secret_keys else json.dumps(value)
            problems.append(f"{full_key}: {shown} is not allowed; {bad}")
            continue
        values[key] = parsed
    if problems:
        raise ConfigError(problems)

    tier = values.get("tier", by_key["tier"].default)
    merged = {leaf.key: leaf.default for leaf in leaves()}
    merged.update(TIER_PRESETS[tier])
    merged.update(values)
    # Pins the stack file does not set follow its Kubernetes version's row of the EKS table.
    release = EKS_RELEASES[merged["kubernetesVersion"]]
    chosen = {*TIER_PRESETS[tier], *values}
    merged.update({k: v for k, v in release_pins(release).items() if k not in chosen})
    tree: dict[str, Any] = {}
    for leaf in leaves():
        _set_path(tree, leaf.path, merged[leaf.key])
    settings = _build(Settings, tree)
    problems = cross_field_problems(settings)
    if problems:
        raise ConfigError(problems)
    return settings


def _key(name: str) -> str:
    return f"{CONFIG_NAMESPACE}:{name}"


def cross_field_problems(settings: Settings) -> list[str]:
    """Checks rules that span settings: ranges, capacity, required companions."""
    problems: list[str] = []
    net = settings.network
    vpc_prefix = ipaddress.ip_network(net.cidr).prefixlen
    prefixes = net.subnet_prefixes
    for tier, prefix in prefixes.items():
        if prefix <= vpc_prefix:
            problems.append(
                f"{_key(tier + 'SubnetPrefix')}: {prefix} is not allowed; it must be longer than "
                f"the VPC's /{vpc_prefix} ({_key('vpcCidr')} = {net.cidr})"
            )
    if not problems:
        try:
            plan_subnets(net.cidr, net.az_count, prefixes)
        except CidrTooSmall as small:
            problems.append(
                f"{_key('vpcCidr')}: {net.cidr!r} is too small; {small}. Use a larger CIDR, "
                f"fewer AZs ({_key('azCount')}) or longer subnet prefixes"
            )
    for name in ("system", "web", "workers"):
        pool = getattr(settings.cluster, f"{name}_pool")
        if pool.min_size > pool.max_size:
            problems.append(
                f"{_key(name + 'PoolMin')}: {pool.min_size} is not allowed; it must not exceed "
                f"{_key(name + 'PoolMax')} ({pool.max_size})"
            )
        elif not pool.min_size <= pool.desired_size <= pool.max_size:
            problems.append(
                f"{_key(name + 'PoolDesired')}: {pool.desired_size} is not allowed; it must lie "
                f"between {_key(name + 'PoolMin')} ({pool.min_size}) and "
                f"{_key(name + 'PoolMax')} ({pool.max_size})"
            )
    problems += _cluster_and_edge_problems(settings)
    problems += data_tier_problems(settings)
    work = settings.workloads
    if work.web_min_replicas > work.web_max_replicas:
        problems.append(
            f"{_key('webMinReplicas')}: {work.web_min_replicas} is not allowed; it must not "
            f"exceed {_key('webMaxReplicas')} ({work.web_max_replicas})"
        )
    problems += workload_problems(work)
    return problems


def _cluster_and_edge_problems(settings: Settings) -> list[str]:
    """Rules of the compute and edge tiers: versions that move together, the edge's zone, and
    who may reach the API endpoint."""
    problems: list[str] = []
    cluster, edge = settings.cluster, settings.edge
    version = cluster.kubernetes_version
    for key, value in (
        ("addonKubeProxyVersion", cluster.addon_kube_proxy_version),
        ("clusterAutoscalerImageTag", cluster.cluster_autoscaler_image_tag),
    ):
        if not value.startswith(f"v{version}."):
            problems.append(
                f"{_key(key)}: {value!r} is not allowed; its minor must match "
                f"{_key('kubernetesVersion')} ({version}), e.g. v{version}.0"
            )
    for name in ("system", "web", "workers"):
        types = getattr(cluster, f"{name}_pool").instance_types
        try:
            ami_type_for(types)
        except ValueError as mixed:
            problems.append(f"{_key(name + 'PoolInstanceTypes')}: {types} is not allowed; {mixed}")
    for arn in cluster.admin_role_arns:
        if not _ROLE_ARN.match(arn):
            problems.append(
                f"{_key('clusterAdminRoleArns')}: {arn!r} is not allowed; expected an IAM role "
                "ARN such as arn:aws:iam::123456789012:role/platform-admin"
            )
    open_to_all = "0.0.0.0/0" in cluster.public_access_cidrs
    if settings.tier == "prod" and cluster.endpoint_public_access and open_to_all:
        problems.append(
            f"{_key('clusterPublicAccessCidrs')}: {json.dumps(cluster.public_access_cidrs)} is "
            "not allowed in prod; list the CI and operator egress CIDRs, or set "
            f"{_key('clusterEndpointPublicAccess')} to false"
        )
    if edge.enabled and not edge.zone_id:
        problems.append(
            f"{_key('cloudflareZoneId')}: '' is not allowed with {_key('edgeEnabled')} = true; "
            "set the id of the Cloudflare zone that holds the domain"
        )
    if not edge.static_path_prefix.startswith("/") or not edge.static_path_prefix.endswith("/"):
        problems.append(
            f"{_key('edgeStaticPathPrefix')}: {edge.static_path_prefix!r} is not allowed; "
            "expected a path that starts and ends with '/', e.g. /static/"
        )
    return problems


def _resource_problems(prefix: str, owner: object) -> list[str]:
    """Requests and limits of one container: valid quantities, request not above limit."""
    found: list[str] = []
    for resource, parse in (("cpu", parse_cpu), ("memory", parse_memory)):
        keys = (f"{prefix}{resource.capitalize()}Request", f"{prefix}{resource.capitalize()}Limit")
        values = (getattr(owner, f"{resource}_request"), getattr(owner, f"{resource}_limit"))
        parsed = []
        for key, value in zip(keys, values, strict=True):
            try:
                parsed.append(parse(value))
            except BadQuantity as bad:
                found.append(f"{_key(key)}: {json.dumps(value)} is not allowed; {bad}")
        if len(parsed) == 2 and parsed[0] > parsed[1]:
            found.append(
                f"{_key(keys[0])}: {json.dumps(values[0])} is not allowed; it must not exceed "
                f"{_key(keys[1])} ({values[1]})"
            )
    return found


class _WebResources:
    """The web container's requests and limits under the names ``_resource_problems`` reads."""

    def __init__(self, work: WorkloadSettings) -> None:
        self.cpu_request, self.cpu_limit = work.web_cpu_request, work.web_cpu_limit
        self.memory_request, self.memory_limit = work.web_memory_request, work.web_memory_limit


def workload_problems(work: WorkloadSettings) -> list[str]:
    """Rules of the workloads: namespace name, quantities, queue ranges."""
    problems: list[str] = []
    if not _DNS_LABEL.match(work.namespace):
        problems.append(
            f"{_key('k8sNamespace')}: {json.dumps(work.namespace)} is not allowed; expected a "
            f"DNS label (lower-case letters, digits and '-', at most 63 characters)"
        )
    problems += _resource_problems("web", _WebResources(work))
    for queue, spec in work.queues.items():
        prefix = f"worker{queue.capitalize()}"
        if spec.min_replicas > spec.max_replicas:
            problems.append(
                f"{_key(prefix + 'Min')}: {spec.min_replicas} is not allowed; it must not exceed "
                f"{_key(prefix + 'Max')} ({spec.max_replicas})"
            )
        problems += _resource_problems(prefix, spec)
    return problems


__all__ = ["TIERS", "load_settings", "parse_value"]
