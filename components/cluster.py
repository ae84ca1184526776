"""The compute tier: an EKS cluster with a managed node group per role, and a Kubernetes provider
built from it whose kubeconfig text never churns."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.common import name_tagger, rotating_key

POOL_LABEL = "quintet.io/pool"
"""Node label (and taint key) naming the pool a node belongs to."""
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ADDONS_BEFORE_NODES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
"""DaemonSet add-ons: nodes only become Ready with the CNI, so these go in before the nodes."""
ADDONS_AFTER_NODES = ("coredns",)
"""Deployment add-ons: they stay DEGRADED (and their creation times out) until nodes exist."""
NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    # Pull-only is narrower than ReadOnly: no listing or describing of other repositories.
    "AmazonEC2ContainerRegistryPullOnly",
    # The CNI's role stays on the node: moving it to Pod Identity races the agent at node boot.
    "AmazonEKS_CNI_Policy",
)
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
_GRAVITON = re.compile(r"^[a-z]+\d+g[a-z]*\.")


@dataclass(frozen=True)
class NodePool:
    """One managed node group."""

    name: str
    """Pool name: the value of the ``quintet.io/pool`` label (and taint, when tainted)."""
    instance_types: list[str]
    """EC2 instance types in preference order; all of one CPU architecture."""
    min_size: int
    """Fewest nodes the autoscaler may leave."""
    max_size: int
    """Most nodes the autoscaler may add."""
    desired_size: int
    """Nodes at creation; afterwards the autoscaler owns it (drift ignored)."""
    capacity_type: str = "ON_DEMAND"
    """``ON_DEMAND`` or ``SPOT``."""
    tainted: bool = False
    """Taint ``quintet.io/pool=<name>:NoSchedule`` so only pods that tolerate it land here."""


@dataclass(frozen=True)
class ClusterArgs:
    """Inputs of the compute tier."""

    cluster_name: str
    """EKS cluster name; the network tags its subnets for it, so it is fixed, not auto-named."""
    kubernetes_version: str
    """Kubernetes MAJOR.MINOR of the control plane and the node groups."""
    region: str
    """AWS region, written into the kubeconfig's token command."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets (one per AZ) for the control-plane ENIs and the nodes."""
    node_security_group_id: pulumi.Input[str]
    """The network's node security group (admits the ALB on the app port); nodes get it too."""
    node_pools: Sequence[NodePool]
    """Node groups, one per role (system, web, workers, ...)."""
    addon_versions: dict[str, str]
    """Pinned version per managed add-on: vpc-cni, kube-proxy, eks-pod-identity-agent, coredns."""
    endpoint_public_access: bool = True
    """Public API endpoint (restricted to ``public_access_cidrs``); private is always on."""
    public_access_cidrs: Sequence[str] = ("0.0.0.0/0",)
    """Who may reach the public API endpoint."""
    aws_profile: str | None = None
    """The stack's ``aws:profile``, written into the kubeconfig's token command when set."""
    admin_role_arns: Sequence[str] = ()
    """IAM roles granted cluster admin through access entries."""
    log_retention_days: int = 30
    """Retention of the control-plane log group."""
    system_pool: str = "system"
    """Pool that runs cluster software (coredns here; the Helm charts in ClusterSoftware)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags merged into every resource's own tags."""


def pool_labels(pool: NodePool) -> dict[str, str]:
    """Kubernetes labels of a pool's nodes."""
    return {POOL_LABEL: pool.name}


def pool_taints(pool: NodePool) -> list[dict[str, str]]:
    """EKS taint specs of a pool's nodes (empty when the pool is untainted)."""
    if not pool.tainted:
        return []
    return [{"key": POOL_LABEL, "value": pool.name, "effect": "NO_SCHEDULE"}]


def ami_type_for(instance_types: Sequence[str]) -> str:
    """The AL2023 AMI type for a pool's instance types; raises ValueError when they mix CPU
    architectures (one node group has one AMI)."""
    arm = {bool(_GRAVITON.match(t)) for t in instance_types}
    if len(arm) != 1:
        raise ValueError(
            f"instance types {', '.join(instance_types)} mix Graviton (arm64) and x86_64; "
            "a node pool takes one architecture"
        )
    return "AL2023_ARM_64_STANDARD" if arm.pop() else "AL2023_x86_64_STANDARD"


def kubeconfig(
    cluster_name: str,
    endpoint: str,
    certificate_authority: str,
    region: str,
    profile: str | None = None,
) -> str:
    """A kubeconfig for the cluster whose text depends only on its arguments.

    The credential comes from ``aws eks get-token`` (AWS CLI v2) at use time, so nothing
    volatile (a token, an expiry, a profile picked up from the environment) lands in the text: a
    changed kubeconfig would replace the Kubernetes provider and everything under it. The
    profile, when given, is the stack's ``aws:profile``: fixed config, so the text stays stable,
    and the token is minted with the same credentials Pulumi's AWS provider uses.
    """
    args = ["eks", "get-token", "--cluster-name", cluster_name, "--region", region]
    if profile:
        args += ["--profile", profile]
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": [*args, "--output", "json"],
            "interactiveMode": "Never",
        }
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": endpoint,
                    "certificate-authority-data": certificate_authority,
                },
            }
        ],
        "users": [{"name": cluster_name, "user": user}],
        "contexts": [
            {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
        ],
        "current-context": cluster_name,
    }
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def _assume_role_policy(service: str, actions: Sequence[str] = ("sts:AssumeRole",)) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": list(actions),
                }
            ],
        }
    )


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


class Cluster(pulumi.ComponentResource):
    """Creates: a KMS key (and alias) for secrets envelope encryption, the control-plane log
    group, the cluster IAM role, the EKS cluster (API authentication mode, private endpoint plus
    a CIDR-restricted public one, all control-plane logs), an access entry with the cluster admin
    policy per admin role, the managed add-ons pinned by version, the node IAM role, a launch
    template (node security groups, IMDSv2, encrypted gp3 root), a managed node group per pool,
    and the Kubernetes provider."""

    cluster_name: pulumi.Output[str]
    cluster_endpoint: pulumi.Output[str]
    cluster_certificate_authority: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    kubernetes_provider: k8s.Provider
    ready: list[pulumi.Resource]
    """Resources cluster software must wait for: node groups and every add-on."""

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("quintet:cluster:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        tags = name_tagger(name, args.tags)

        key = rotating_key(
            f"{name}-secrets-key", f"EKS secrets envelope encryption for {args.cluster_name}",
            tags("secrets-key"), child,
        )
        aws.kms.Alias(
            f"{name}-secrets-key-alias",
            name=f"alias/{args.cluster_name}-eks-secrets",
            target_key_id=key.key_id,
            opts=child,
        )
        # EKS would create this group itself, with no expiry; owning it sets the retention.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            tags=tags("control-plane-logs"),
            opts=child,
        )
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=_assume_role_policy(
                "eks.amazonaws.com", ("sts:AssumeRole", "sts:TagSession")
            ),
            tags=tags("cluster-role"),
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=child,
        )

        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": list(args.subnet_ids),
                "endpoint_private_access": True,
                "endpoint_public_access": args.endpoint_public_access,
                "public_access_cidrs": (
                    list(args.public_access_cidrs) if args.endpoint_public_access else None
                ),
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            access_config={
                "authentication_mode": "API",
                # The identity running `pulumi up` must reach the API to install the Helm charts
                # in the same run; admins come from access entries.
                "bootstrap_cluster_creator_admin_permissions": True,
            },
            # Every add-on is a pinned managed add-on below; the unmanaged defaults would fight it.
            bootstrap_self_managed_addons=False,
            # Extended support bills six times the hourly rate: stay on standard, upgrade.
            upgrade_policy={"support_type": "STANDARD"},
            tags=tags("eks"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, cluster_policy]),
        )

        for arn in args.admin_role_arns:
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{_role_name(arn)}",
                cluster_name=cluster.name,
                principal_arn=arn,
                type="STANDARD",
                opts=child,
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{_role_name(arn)}-policy",
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=CLUSTER_ADMIN_POLICY,
                access_scope={"type": "cluster"},
                opts=child,
            )

        def addon(addon_name: str, after: list[pulumi.Resource], **extra) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-addon-{addon_name}",
                cluster_name=cluster.name,
                addon_name=addon_name,
                addon_version=args.addon_versions[addon_name],
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="PRESERVE",
                opts=pulumi.ResourceOptions(parent=self, depends_on=after),
                **extra,
            )

        # The VPC CNI enforces Kubernetes NetworkPolicies only when asked to; the workloads
        # declare default-deny policies, so enforcement must be on.
        early_config = {"vpc-cni": {"enableNetworkPolicy": "true"}}
        early_addons = [
            addon(a, [], **(
                {"configuration_values": json.dumps(early_config[a], sort_keys=True)}
                if a in early_config else {}
            ))
            for a in ADDONS_BEFORE_NODES
        ]

        node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=_assume_role_policy("ec2.amazonaws.com"),
            tags=tags("node-role"),
            opts=child,
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=node_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )
            for policy in NODE_MANAGED_POLICIES
        ]
        cluster_sg = cluster.vpc_config.cluster_security_group_id
        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-nodes",
            description=f"Nodes of {args.cluster_name}",
            # With a launch template EKS adds no security group of its own: keep the cluster's
            # (control plane <-> kubelet, webhooks) and add the network's node group.
            vpc_security_group_ids=[cluster_sg, args.node_security_group_id],
            # IMDSv2 only, one hop: pods cannot borrow the node role; they use Pod Identity.
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {"volume_size": 50, "volume_type": "gp3", "encrypted": "true"},
                }
            ],
            tag_specifications=[
                {"resource_type": "instance", "tags": tags("node")},
                {"resource_type": "volume", "tags": tags("node-volume")},
            ],
            update_default_version=True,
            tags=tags("nodes"),
            opts=child,
        )

        node_groups: list[aws.eks.NodeGroup] = []
        for pool in args.node_pools:
            node_groups.append(
                aws.eks.NodeGroup(
                    f"{name}-pool-{pool.name}",
                    cluster_name=cluster.name,
                    # A prefix, not a fixed name: a replacement is created before the old group
                    # is deleted, so a change of instance types drains rather than drops a pool.
                    node_group_name_prefix=f"{pool.name}-",
                    version=args.kubernetes_version,
                    node_role_arn=node_role.arn,
                    subnet_ids=list(args.subnet_ids),
                    instance_types=list(pool.instance_types),
                    capacity_type=pool.capacity_type,
                    ami_type=ami_type_for(pool.instance_types),
                    scaling_config={
                        "min_size": pool.min_size,
                        "max_size": pool.max_size,
                        "desired_size": pool.desired_size,
                    },
                    update_config={"max_unavailable_percentage": 33},
                    labels=pool_labels(pool),
                    taints=pool_taints(pool),
                    launch_template={
                        "id": launch_template.id,
                        "version": launch_template.latest_version.apply(str),
                    },
                    tags=tags(f"pool-{pool.name}"),
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        depends_on=[*node_policies, *early_addons],
                        # The cluster autoscaler owns the node count after creation.
                        ignore_changes=["scalingConfig.desiredSize"],
                    ),
                )
            )

        late_addons = [
            addon(
                a,
                list(node_groups),
                configuration_values=json.dumps(
                    {"nodeSelector": {POOL_LABEL: args.system_pool}}
                ),
            )
            for a in ADDONS_AFTER_NODES
        ]

        self.kubeconfig = pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.certificate_authority.data
        ).apply(
            lambda parts: kubeconfig(parts[0], parts[1], parts[2], args.region, args.aws_profile)
        )
        self.kubernetes_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.cluster_name = cluster.name
        self.cluster_endpoint = cluster.endpoint
        self.cluster_certificate_authority = cluster.certificate_authority.data
        self.cluster_security_group_id = cluster_sg
        self.cluster_arn = cluster.arn
        self.node_role_arn = node_role.arn
        self.ready = [*node_groups, *early_addons, *late_addons]
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_endpoint": self.cluster_endpoint,
                "cluster_certificate_authority": self.cluster_certificate_authority,
                "cluster_security_group_id": self.cluster_security_group_id,
                "cluster_arn": self.cluster_arn,
                "node_role_arn": self.node_role_arn,
                "kubeconfig": self.kubeconfig,
            }
        )
