"""The load balancer tier: an internet-facing ALB owned by Pulumi; pods join its target group
through a TargetGroupBinding (the workloads tier creates it from ``target_group_arn``).

Pulumi owns the ALB rather than an Ingress creating it, so the ALB's DNS name is an ordinary
output in the same ``pulumi up`` (the edge points at it), its security group is locked to
Cloudflare by Pulumi, and deleting the app's Kubernetes objects never deletes the load balancer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pulumi
import pulumi_aws as aws

from components.common import name_tagger

HTTP_PORT, HTTPS_PORT = 80, 443
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"  # TLS 1.2 minimum, TLS 1.3 preferred
FORBIDDEN = {
    "type": "fixed-response",
    "fixed_response": {"content_type": "text/plain", "message_body": "forbidden",
                       "status_code": "403"},
}
"""The HTTPS listener's answer to a request without the edge's header (nothing internal in it)."""


class DnsRecordFactory(Protocol):
    """Creates the certificate's DNS validation record somewhere and returns its FQDN."""

    def __call__(
        self,
        resource_name: str,
        record_name: pulumi.Output[str],
        record_type: pulumi.Output[str],
        record_value: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Output[str]:
        """Declares the record as a child resource named ``resource_name``."""
        ...


@dataclass(frozen=True)
class OriginLock:
    """A secret request header the edge adds to everything it forwards: the HTTPS listener
    forwards only requests that carry it and answers 403 to the rest, so Cloudflare's published
    ranges (shared by every Cloudflare customer) are not enough to reach the app."""

    header_name: str
    """Name of the header."""
    header_value: pulumi.Input[str]
    """The secret value (letters and digits: ALB header conditions treat ``*`` and ``?`` as
    wildcards)."""
    ready: Sequence[pulumi.Resource] = ()
    """What adds the header at the edge; the listener starts demanding it only after that."""


@dataclass(frozen=True)
class LoadBalancerArgs:
    """Inputs of the load balancer tier."""

    vpc_id: pulumi.Input[str]
    """VPC of the target group."""
    public_subnet_ids: Sequence[pulumi.Input[str]]
    """Public subnets (one per AZ) the ALB lives in."""
    security_group_id: pulumi.Input[str]
    """The network's ALB security group; this component adds its ingress rules."""
    domain: str
    """Host name the ACM certificate covers."""
    ingress_cidrs: Sequence[str]
    """IPv4 CIDRs admitted on 80 and 443: Cloudflare's ranges behind the edge, else 0.0.0.0/0."""
    validation_record: DnsRecordFactory | None = None
    """Creates the certificate's validation record; None: someone creates it by hand (see
    ``certificate_validation_record_*``) while ``pulumi up`` waits."""
    target_port: int = 8000
    """Port of the web pods (uvicorn) the target group sends to."""
    health_check_path: str = "/readyz"
    """The app's readiness path."""
    idle_timeout: int = 60
    """Seconds an idle connection stays open; uvicorn's keep-alive must exceed it."""
    deregistration_delay: int = 30
    """Seconds a deregistering pod keeps its in-flight requests (the pods' preStop covers it)."""
    deletion_protection: bool = False
    """Refuse to delete the ALB."""
    origin_lock: OriginLock | None = None
    """Forward only requests with the edge's secret header (None: forward everything)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags merged into every resource's own tags."""


def cidr_slug(cidr: str) -> str:
    """A CIDR as a resource-name fragment: ``173.245.48.0/20`` -> ``173-245-48-0-20``."""
    return cidr.replace(".", "-").replace("/", "-").replace(":", "-")


class LoadBalancer(pulumi.ComponentResource):
    """Creates: ingress rules on the ALB security group (80 and 443 per admitted CIDR), the ACM
    certificate and its validation (through ``validation_record`` when given), the internet-facing
    ALB in the public subnets, an ``ip`` target group with the readiness health check, an HTTPS
    listener forwarding to it (with an origin lock: a 403 by default and a rule forwarding only
    requests with the edge's secret header), and an HTTP listener redirecting to HTTPS."""

    alb_arn: pulumi.Output[str]
    alb_dns_name: pulumi.Output[str]
    alb_zone_id: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    https_listener_arn: pulumi.Output[str]
    certificate_arn: pulumi.Output[str]
    certificate_validation_record_name: pulumi.Output[str]
    certificate_validation_record_type: pulumi.Output[str]
    certificate_validation_record_value: pulumi.Output[str]

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("quintet:loadbalancer:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        tags = name_tagger(name, args.tags)

        # Named by CIDR, not position: when Cloudflare publishes a new range, one rule is added
        # and none of the others is replaced.
        ingress_rules = [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{port}-from-{cidr_slug(cidr)}",
                security_group_id=args.security_group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=cidr,
                description=f"{'HTTPS' if port == HTTPS_PORT else 'HTTP (redirect)'} from {cidr}",
                opts=child,
            )
            for cidr in args.ingress_cidrs
            for port in (HTTP_PORT, HTTPS_PORT)
        ]

        certificate = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.domain,
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            tags=tags("cert"),
            opts=child,
        )
        option = certificate.domain_validation_options.apply(lambda options: options[0])
        record_name = option.apply(lambda o: o.resource_record_name)
        record_type = option.apply(lambda o: o.resource_record_type)
        record_value = option.apply(lambda o: o.resource_record_value)
        if args.validation_record is not None:
            fqdn = args.validation_record(
                f"{name}-cert-validation-record", record_name, record_type, record_value, child
            )
            validation = aws.acm.CertificateValidation(
                f"{name}-cert-validation",
                certificate_arn=certificate.arn,
                validation_record_fqdns=[fqdn],
                opts=child,
            )
        else:
            validation = aws.acm.CertificateValidation(
                f"{name}-cert-validation",
                certificate_arn=certificate.arn,
                # A person creates the record from the stack outputs or `aws acm
                # describe-certificate`; give them time.
                opts=pulumi.ResourceOptions(
                    parent=self, custom_timeouts=pulumi.CustomTimeouts(create="2h")
                ),
            )

        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=list(args.public_subnet_ids),
            security_groups=[args.security_group_id],
            idle_timeout=args.idle_timeout,
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            tags=tags("alb"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=ingress_rules),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-web",
            target_type="ip",
            port=args.target_port,
            protocol="HTTP",
            vpc_id=args.vpc_id,
            deregistration_delay=args.deregistration_delay,
            health_check={
                "path": args.health_check_path,
                "port": "traffic-port",
                "protocol": "HTTP",
                "matcher": "200",
                "interval": 10,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 2,
            },
            tags=tags("web"),
            opts=child,
        )
        forward = {"type": "forward", "target_group_arn": target_group.arn}
        lock = args.origin_lock
        https = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=alb.arn,
            port=HTTPS_PORT,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=validation.certificate_arn,
            default_actions=[forward if lock is None else FORBIDDEN],
            tags=tags("https"),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(lock.ready) if lock is not None else []
            ),
        )
        if lock is not None:
            aws.lb.ListenerRule(
                f"{name}-https-from-edge",
                listener_arn=https.arn,
                priority=1,
                conditions=[
                    {
                        "http_header": {
                            "http_header_name": lock.header_name,
                            "values": [pulumi.Output.secret(lock.header_value)],
                        }
                    }
                ],
                actions=[forward],
                tags=tags("https-from-edge"),
                opts=child,
            )
        aws.lb.Listener(
            f"{name}-http-redirect",
            load_balancer_arn=alb.arn,
            port=HTTP_PORT,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {
                        "protocol": "HTTPS",
                        "port": str(HTTPS_PORT),
                        "status_code": "HTTP_301",
                    },
                }
            ],
            tags=tags("http-redirect"),
            opts=child,
        )

        self.alb_arn = alb.arn
        self.alb_dns_name = alb.dns_name
        self.alb_zone_id = alb.zone_id
        self.target_group_arn = target_group.arn
        self.https_listener_arn = https.arn
        self.certificate_arn = validation.certificate_arn
        self.certificate_validation_record_name = record_name
        self.certificate_validation_record_type = record_type
        self.certificate_validation_record_value = record_value
        self.register_outputs(
            {
                "alb_arn": self.alb_arn,
                "alb_dns_name": self.alb_dns_name,
                "alb_zone_id": self.alb_zone_id,
                "target_group_arn": self.target_group_arn,
                "https_listener_arn": self.https_listener_arn,
                "certificate_arn": self.certificate_arn,
                "certificate_validation_record_name": record_name,
                "certificate_validation_record_type": record_type,
                "certificate_validation_record_value": record_value,
            }
        )
