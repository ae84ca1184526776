"""Wires compute and the edge from settings: the EKS cluster and its software, the ALB, and
Cloudflare in front of it.

Three DNS modes, by settings:
- ``edgeEnabled`` (prod): proxied record, cache rules and TLS settings in the zone; the ALB admits
  only Cloudflare's published ranges, and forwards only requests carrying the secret header the
  zone's transform rule adds (the origin lock: the ranges are every Cloudflare customer's).
- a zone id without the edge: Cloudflare hosts a DNS-only record and the certificate validation
  record; the ALB admits the internet (still HTTPS).
- neither (dev by default): no Cloudflare at all; the certificate validation record is exported
  (``certificate_validation_record_*``) for whoever hosts the domain's DNS to create.

``components.edge`` (and so ``pulumi_cloudflare``, seconds to import) is imported only when a zone
id is set.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

import pulumi
import pulumi_aws as aws

from components.cluster import Cluster, ClusterArgs, NodePool
from components.cluster_software import ChartVersions, ClusterSoftware, ClusterSoftwareArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs, OriginLock
from components.network import APP_PORT, Network
from stacks.settings.model import NodePoolSettings, Settings

OPEN_INTERNET = "0.0.0.0/0"
POOLS = ("system", "web", "workers")
TAINTED_POOLS = ("workers",)
"""Pools whose nodes only take pods that tolerate them: Celery workers stay off web nodes."""
READINESS_PATH = "/readyz"
"""The ALB target check: this pod can serve (docs/app.md, "Probes"); never the deep report."""


@dataclass(frozen=True)
class ComputeEdge:
    """The compute and edge components; the workloads tier consumes their attributes
    (``cluster.kubernetes_provider``, ``load_balancer.target_group_arn``)."""

    cluster: Cluster
    software: ClusterSoftware
    load_balancer: LoadBalancer
    edge: pulumi.ComponentResource | None


def node_pools(settings: Settings) -> list[NodePool]:
    """The node pools of the stack, from the ``<pool>Pool*`` settings."""
    pools: list[NodePool] = []
    for name in POOLS:
        pool: NodePoolSettings = getattr(settings.cluster, f"{name}_pool")
        pools.append(
            NodePool(
                name=name,
                instance_types=list(pool.instance_types),
                capacity_type=pool.capacity_type,
                min_size=pool.min_size,
                max_size=pool.max_size,
                desired_size=pool.desired_size,
                tainted=name in TAINTED_POOLS,
            )
        )
    return pools


DEREGISTRATION_MARGIN_SECONDS = 5
"""How much sooner the ALB gives up on a deregistering target than the pod's preStop ends."""


def deregistration_delay_seconds(settings: Settings) -> int:
    """The target group's deregistration delay, derived from the web pods' preStop sleep.

    A terminating pod sleeps in preStop while the LB controller deregisters it and the ALB
    finishes the requests it sent; the ALB must be done with the target (this delay) before
    the pod gets SIGTERM, so the delay stays below the sleep (docs/workloads.md, the timeline).
    """
    return max(0, settings.workloads.web_pre_stop_sleep_seconds - DEREGISTRATION_MARGIN_SECONDS)


def _edge_module(settings: Settings) -> ModuleType | None:
    if not settings.edge.zone_id:
        return None
    return importlib.import_module("components.edge")


def build_compute_edge(
    settings: Settings,
    network: Network,
    *,
    prefix: str,
    region: str,
    aws_provider: aws.Provider,
    aws_profile: str | None = None,
) -> ComputeEdge:
    """Declares the cluster, its software, the ALB and (with a zone id) the Cloudflare records."""
    with_aws = pulumi.ResourceOptions(providers=[aws_provider])
    c = settings.cluster
    cluster = Cluster(
        "cluster",
        ClusterArgs(
            cluster_name=prefix,
            kubernetes_version=c.kubernetes_version,
            region=region,
            aws_profile=aws_profile,
            subnet_ids=network.private_subnet_ids,
            node_security_group_id=network.node_security_group_id,
            node_pools=node_pools(settings),
            addon_versions={
                "vpc-cni": c.addon_vpc_cni_version,
                "kube-proxy": c.addon_kube_proxy_version,
                "eks-pod-identity-agent": c.addon_pod_identity_version,
                "coredns": c.addon_coredns_version,
            },
            endpoint_public_access=c.endpoint_public_access,
            public_access_cidrs=list(c.public_access_cidrs),
            admin_role_arns=list(c.admin_role_arns),
            log_retention_days=c.log_retention_days,
        ),
        opts=with_aws,
    )
    software = ClusterSoftware(
        "cluster-software",
        ClusterSoftwareArgs(
            cluster_name=cluster.cluster_name,
            region=region,
            vpc_id=network.vpc_id,
            charts=ChartVersions(
                aws_load_balancer_controller=c.chart_lb_controller_version,
                metrics_server=c.chart_metrics_server_version,
                keda=c.chart_keda_version,
                cluster_autoscaler=c.chart_cluster_autoscaler_version,
                kube_prometheus_stack=c.chart_kube_prometheus_stack_version,
            ),
            autoscaler_image_tag=c.cluster_autoscaler_image_tag,
            ready=cluster.ready,
        ),
        opts=pulumi.ResourceOptions(providers=[aws_provider, cluster.kubernetes_provider]),
    )

    edge_settings = settings.edge
    edge_module = _edge_module(settings)
    behind_edge = edge_module is not None and edge_settings.enabled
    ingress = edge_module.cloudflare_ipv4_ranges() if behind_edge else [OPEN_INTERNET]
    origin_lock = None
    if behind_edge:
        import pulumi_random as random

        # Letters and digits only: ALB header conditions read * and ? as wildcards.
        secret = random.RandomPassword("origin-lock-secret", length=48, special=False).result
        header = edge_module.origin_lock_ruleset(
            "edge-origin-lock", edge_settings.zone_id, edge_settings.domain, secret
        )
        origin_lock = OriginLock(edge_module.ORIGIN_LOCK_HEADER, secret, ready=[header])
    load_balancer = LoadBalancer(
        "load-balancer",
        LoadBalancerArgs(
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            security_group_id=network.alb_security_group_id,
            domain=edge_settings.domain,
            ingress_cidrs=ingress,
            validation_record=(
                edge_module.cloudflare_validation_record(edge_settings.zone_id)
                if edge_module is not None
                else None
            ),
            target_port=APP_PORT,
            health_check_path=READINESS_PATH,
            deregistration_delay=deregistration_delay_seconds(settings),
            deletion_protection=settings.tier == "prod",
            origin_lock=origin_lock,
        ),
        opts=with_aws,
    )
    edge = None
    if edge_module is not None:
        edge = edge_module.Edge(
            "edge",
            edge_module.EdgeArgs(
                zone_id=edge_settings.zone_id,
                domain=edge_settings.domain,
                origin_hostname=load_balancer.alb_dns_name,
                proxied=edge_settings.enabled,
                manage_zone=edge_settings.enabled,
                static_path_prefix=edge_settings.static_path_prefix,
            ),
        )
    return ComputeEdge(cluster=cluster, software=software, load_balancer=load_balancer, edge=edge)


def export_compute_edge(tier: ComputeEdge, settings: Settings) -> None:
    """Stack outputs of compute and the edge, named ``<resource>_<attribute>``."""
    pulumi.export("cluster_name", tier.cluster.cluster_name)
    pulumi.export("cluster_endpoint", tier.cluster.cluster_endpoint)
    pulumi.export("cluster_kubeconfig", tier.cluster.kubeconfig)
    pulumi.export("alb_dns_name", tier.load_balancer.alb_dns_name)
    pulumi.export("alb_target_group_arn", tier.load_balancer.target_group_arn)
    pulumi.export("certificate_arn", tier.load_balancer.certificate_arn)
    pulumi.export("app_url", f"https://{settings.edge.domain}")
    if tier.edge is None:
        lb = tier.load_balancer
        pulumi.export("certificate_validation_record_name", lb.certificate_validation_record_name)
        pulumi.export("certificate_validation_record_type", lb.certificate_validation_record_type)
        pulumi.export(
            "certificate_validation_record_value", lb.certificate_validation_record_value
        )
