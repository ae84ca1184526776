"""The network tier: a VPC across N AZs with public, private and isolated subnets, NAT, and the
ALB and node security groups (the data tier makes its own, one per store)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.common import name_tagger
from components.subnets import plan_subnets

NAT_SINGLE, NAT_PER_AZ = "single", "per-az"
APP_PORT = 8000  # the uvicorn port inside web pods; the ALB targets pod IPs on it


@dataclass(frozen=True)
class NetworkArgs:
    """Inputs of the network tier."""

    cidr: str
    """Base CIDR of the VPC; all subnet CIDRs are computed from it."""
    az_count: int
    """How many availability zones to spread subnets across."""
    nat_strategy: str
    """``single`` (one shared NAT) or ``per-az``. There is no ``none``: nodes pull images from
    public registries and the app calls third-party upstreams, which VPC endpoints cannot reach."""
    subnet_prefixes: dict[str, int]
    """Prefix length per subnet tier: ``public``, ``private``, ``isolated``."""
    cluster_name: str
    """EKS cluster name, for the ``kubernetes.io/cluster/<name>`` discovery tag."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags merged into every resource's own tags."""


class Network(pulumi.ComponentResource):
    """Creates: VPC, internet gateway, public/private/isolated subnets per AZ, NAT gateways with
    their Elastic IPs per strategy, route tables, and the ALB and node security groups."""

    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    isolated_subnet_ids: list[pulumi.Output[str]]
    public_subnet_cidrs: list[str]
    alb_security_group_id: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    availability_zones: list[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("quintet:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        zones = aws.get_availability_zones(
            state="available", opts=pulumi.InvokeOptions(parent=self)
        ).names
        if len(zones) < args.az_count:
            raise pulumi.RunError(
                f"quintet:azCount: {args.az_count} is not allowed; the region has "
                f"{len(zones)} available zones ({', '.join(zones)})"
            )
        self.availability_zones = list(zones[: args.az_count])

        tags = name_tagger(name, args.tags)

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tags("vpc"),
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=tags("igw"), opts=child
        )

        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        role_tags = {
            "public": {"kubernetes.io/role/elb": "1", **cluster_tag},
            "private": {"kubernetes.io/role/internal-elb": "1", **cluster_tag},
            "isolated": {},
        }
        subnets: dict[str, list[aws.ec2.Subnet]] = {"public": [], "private": [], "isolated": []}
        plans = plan_subnets(args.cidr, args.az_count, args.subnet_prefixes)
        for plan in plans:
            zone = self.availability_zones[plan.az_index]
            subnets[plan.tier].append(
                aws.ec2.Subnet(
                    f"{name}-{plan.tier}-{zone[-1]}",
                    vpc_id=vpc.id,
                    cidr_block=plan.cidr,
                    availability_zone=zone,
                    # Public subnets hold only the ALB and NAT gateways, which get their own
                    # addresses; nothing launched there should get a public IP by accident.
                    map_public_ip_on_launch=False,
                    tags=tags(f"{plan.tier}-{zone[-1]}", **{"quintet.io/subnet-tier": plan.tier},
                              **role_tags[plan.tier]),
                    opts=child,
                )
            )
        self.public_subnet_cidrs = [p.cidr for p in plans if p.tier == "public"]

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags=tags("public-rt"), opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )
        for subnet, zone in zip(subnets["public"], self.availability_zones, strict=True):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone[-1]}-rta",
                subnet_id=subnet.id,
                route_table_id=public_rt.id,
                opts=child,
            )

        counts = {NAT_SINGLE: 1, NAT_PER_AZ: args.az_count}
        if args.nat_strategy not in counts:
            raise ValueError(
                f"nat_strategy {args.nat_strategy!r} is not allowed; allowed: {', '.join(counts)}"
            )
        nat_count = counts[args.nat_strategy]
        nats: list[aws.ec2.NatGateway] = []
        for index in range(nat_count):
            zone = self.availability_zones[index]
            eip = aws.ec2.Eip(f"{name}-nat-{zone[-1]}-eip", domain="vpc",
                              tags=tags(f"nat-{zone[-1]}-eip"), opts=child)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{zone[-1]}",
                    allocation_id=eip.id,
                    subnet_id=subnets["public"][index].id,
                    tags=tags(f"nat-{zone[-1]}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        for index, (subnet, zone) in enumerate(
            zip(subnets["private"], self.availability_zones, strict=True)
        ):
            rt = aws.ec2.RouteTable(
                f"{name}-private-{zone[-1]}-rt", vpc_id=vpc.id,
                tags=tags(f"private-{zone[-1]}-rt"), opts=child,
            )
            # per-az: each AZ egresses through its own NAT, so losing one AZ loses no egress
            # elsewhere; single: all share the first.
            aws.ec2.Route(
                f"{name}-private-{zone[-1]}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[index % len(nats)].id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone[-1]}-rta", subnet_id=subnet.id, route_table_id=rt.id,
                opts=child,
            )

        # Isolated subnets route nowhere outside the VPC: the data tier needs no internet.
        isolated_rt = aws.ec2.RouteTable(
            f"{name}-isolated-rt", vpc_id=vpc.id, tags=tags("isolated-rt"), opts=child
        )
        for subnet, zone in zip(subnets["isolated"], self.availability_zones, strict=True):
            aws.ec2.RouteTableAssociation(
                f"{name}-isolated-{zone[-1]}-rta", subnet_id=subnet.id,
                route_table_id=isolated_rt.id, opts=child,
            )

        alb_sg = aws.ec2.SecurityGroup(
            f"{name}-alb-sg", vpc_id=vpc.id,
            description="ALB: HTTPS and the HTTP redirect in; only to the web pods out",
            tags=tags("alb-sg"), opts=child,
        )
        node_sg = aws.ec2.SecurityGroup(
            f"{name}-node-sg", vpc_id=vpc.id,
            description="EKS nodes and pods: from the ALB and each other",
            tags=tags("node-sg", **cluster_tag), opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-alb-to-nodes", security_group_id=alb_sg.id, ip_protocol="tcp",
            from_port=APP_PORT, to_port=APP_PORT, referenced_security_group_id=node_sg.id,
            description="ALB to web pods", opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nodes-from-alb", security_group_id=node_sg.id, ip_protocol="tcp",
            from_port=APP_PORT, to_port=APP_PORT, referenced_security_group_id=alb_sg.id,
            description="web pods from the ALB", opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nodes-from-nodes", security_group_id=node_sg.id, ip_protocol="-1",
            referenced_security_group_id=node_sg.id, description="node and pod traffic",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-nodes-egress", security_group_id=node_sg.id, ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            description="images, AWS APIs and third-party upstreams through NAT", opts=child,
        )

        self.vpc_id = vpc.id
        self.public_subnet_ids = [s.id for s in subnets["public"]]
        self.private_subnet_ids = [s.id for s in subnets["private"]]
        self.isolated_subnet_ids = [s.id for s in subnets["isolated"]]
        self.alb_security_group_id = alb_sg.id
        self.node_security_group_id = node_sg.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "isolated_subnet_ids": self.isolated_subnet_ids,
                "alb_security_group_id": self.alb_security_group_id,
                "node_security_group_id": self.node_security_group_id,
            }
        )
