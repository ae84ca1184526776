"""The reference stack: the one place that wires the tiers together and exports outputs."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.network import Network, NetworkArgs
from components.registry import Registry, RegistryArgs
from components.uploads_bucket import UploadsBucket, UploadsBucketArgs
from k8s.web import SERVICE_ACCOUNT as WEB_SERVICE_ACCOUNT
from k8s.workers import WORKER_SERVICE_ACCOUNT
from stacks.compute_edge import build_compute_edge, export_compute_edge
from stacks.data_tier import build_data_tier, export_data_tier
from stacks.image import export_first_deploy, names_an_image
from stacks.settings import Settings
from stacks.workloads import build_workloads_tier, uploads_bucket_name


def base_tags(settings: Settings, stack: str) -> dict[str, str]:
    """Tags every AWS resource carries (through the provider's default tags)."""
    return {
        "quintet.io/project": "quintet",
        "quintet.io/stack": stack,
        "quintet.io/tier": settings.tier,
        "managed-by": "pulumi",
    }


def build_reference_stack(
    settings: Settings, *, stack: str, region: str, aws_profile: str | None = None
) -> None:
    """Declares every tier of the topology for one stack and exports what consumers need.

    ``aws_profile`` is the stack's ``aws:profile``: an explicit provider does not read the
    ``aws:`` config namespace itself, so it is passed on (and into the kubeconfig)."""
    prefix = f"quintet-{stack}"
    aws_provider = aws.Provider(
        "aws", region=region, profile=aws_profile,
        default_tags={"tags": base_tags(settings, stack)},
    )
    with_aws = pulumi.ResourceOptions(providers=[aws_provider])

    net = settings.network
    network = Network(
        "network",
        NetworkArgs(
            cidr=net.cidr,
            az_count=net.az_count,
            nat_strategy=net.nat_strategy,
            subnet_prefixes=net.subnet_prefixes,
            cluster_name=prefix,
        ),
        opts=with_aws,
    )
    registry = Registry(
        "registry",
        RegistryArgs(repository_name=prefix, keep_images=settings.image.keep_images),
        opts=with_aws,
    )
    data = build_data_tier(settings, network, prefix=prefix, opts=with_aws)
    compute = build_compute_edge(
        settings, network, prefix=prefix, region=region, aws_provider=aws_provider,
        aws_profile=aws_profile,
    )
    up = settings.uploads
    uploads = UploadsBucket(
        "uploads",
        UploadsBucketArgs(
            bucket_name=uploads_bucket_name(stack),
            allowed_origin=f"https://{settings.edge.domain}",
            versioning=up.versioning,
            noncurrent_version_days=up.noncurrent_version_days,
            abort_multipart_days=up.abort_multipart_days,
            cluster_name=compute.cluster.cluster_name,
            namespace=settings.workloads.namespace,
            service_account=WEB_SERVICE_ACCOUNT,
            sweep_service_account=WORKER_SERVICE_ACCOUNT,
        ),
        opts=with_aws,
    )

    pulumi.export("vpc_id", network.vpc_id)
    pulumi.export("availability_zones", network.availability_zones)
    pulumi.export("public_subnet_ids", network.public_subnet_ids)
    pulumi.export("private_subnet_ids", network.private_subnet_ids)
    pulumi.export("isolated_subnet_ids", network.isolated_subnet_ids)
    pulumi.export("ecr_repository_url", registry.repository_url)
    pulumi.export("uploads_bucket_name", uploads.bucket_name)
    pulumi.export("uploads_web_role_arn", uploads.web_role_arn)
    export_data_tier(data)
    export_compute_edge(compute, settings)
    if not names_an_image(settings):
        # First deploy: the registry is empty, so a Job or Deployment would wait on an image
        # that does not exist (ImagePullBackOff until Pulumi's await gives up).
        export_first_deploy(registry.repository_url, region, aws_profile)
        return
    workloads = build_workloads_tier(
        settings, stack=stack, registry=registry, data=data, compute=compute, region=region
    )
    pulumi.export("image_tag", settings.image.tag)
    pulumi.export("image_digest", settings.image.digest)
    pulumi.export("workloads_namespace", workloads.namespace)
    pulumi.export("workloads_migrations_job_name", workloads.migrations_job_name)
