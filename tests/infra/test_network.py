"""The network tier per shipped stack: subnets per AZ and their CIDRs, NAT per tier, tags, SGs."""

from __future__ import annotations

import ipaddress

import pytest

from components.subnets import CidrTooSmall, plan_subnets

EXPECTED = {
    # stack: (AZs, NAT gateways, VPC CIDR)
    "dev": (2, 1, "10.40.0.0/16"),
    "staging": (2, 1, "10.41.0.0/16"),
    "prod": (3, 3, "10.42.0.0/16"),
}


def subnets_by_tier(run):
    found = {"public": [], "private": [], "isolated": []}
    for subnet in run.of_type("aws:ec2/subnet:Subnet"):
        found[subnet.inputs["tags"]["quintet.io/subnet-tier"]].append(subnet)
    return found


@pytest.mark.parametrize("stack", EXPECTED)
def test_subnets_per_az_inside_the_vpc_without_overlap(stack_run, stack):
    azs, _, cidr = EXPECTED[stack]
    run = stack_run(stack)
    vpc = run.of_type("aws:ec2/vpc:Vpc")
    assert [v.inputs["cidrBlock"] for v in vpc] == [cidr]
    tiers = subnets_by_tier(run)
    blocks = []
    for tier, subnets in tiers.items():
        assert len(subnets) == azs, f"{stack}: {len(subnets)} {tier} subnets, want {azs}"
        zones = sorted(s.inputs["availabilityZone"] for s in subnets)
        assert zones == [f"eu-west-2{c}" for c in "abc"[:azs]], zones
        blocks += [ipaddress.ip_network(s.inputs["cidrBlock"]) for s in subnets]
    vpc_net = ipaddress.ip_network(cidr)
    assert all(b.subnet_of(vpc_net) for b in blocks)
    for i, a in enumerate(blocks):
        for b in blocks[i + 1 :]:
            assert not a.overlaps(b), f"{a} overlaps {b}"


def test_dev_subnet_cidrs_are_the_planned_ones(stack_run):
    tiers = subnets_by_tier(stack_run("dev"))
    cidrs = {t: sorted(s.inputs["cidrBlock"] for s in subs) for t, subs in tiers.items()}
    assert cidrs == {
        "private": ["10.40.0.0/20", "10.40.16.0/20"],
        "public": ["10.40.32.0/24", "10.40.33.0/24"],
        "isolated": ["10.40.34.0/24", "10.40.35.0/24"],
    }


@pytest.mark.parametrize("stack", EXPECTED)
def test_nat_count_per_tier_and_private_routes(stack_run, stack):
    azs, nats, _ = EXPECTED[stack]
    run = stack_run(stack)
    gateways = run.of_type("aws:ec2/natGateway:NatGateway")
    assert len(gateways) == nats
    assert len(run.of_type("aws:ec2/eip:Eip")) == nats
    default_routes = [
        r for r in run.of_type("aws:ec2/route:Route") if r.inputs.get("natGatewayId")
    ]
    assert len(default_routes) == azs
    assert {r.inputs["natGatewayId"] for r in default_routes} == {
        f"{g.name}-id" for g in gateways
    }


def test_no_nat_is_refused_with_the_reason(config_error):
    # Without NAT the nodes could pull nothing from the public registries the charts and the
    # PgBouncer sidecar use, and the app could not call its upstreams: refuse, and say why.
    message = config_error("dev", {"quintet:natStrategy": "none"})
    assert 'quintet:natStrategy: "none" is not allowed; allowed: single, per-az' in message
    assert "public registries" in message and "VPC endpoints cannot reach" in message


@pytest.mark.parametrize("stack", EXPECTED)
def test_discovery_tags(stack_run, stack):
    tiers = subnets_by_tier(stack_run(stack))
    cluster_tag = f"kubernetes.io/cluster/quintet-{stack}"
    for subnet in tiers["public"]:
        assert subnet.inputs["tags"]["kubernetes.io/role/elb"] == "1"
        assert subnet.inputs["tags"][cluster_tag] == "shared"
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    for subnet in tiers["private"]:
        assert subnet.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
    for subnet in tiers["isolated"]:
        assert not any(k.startswith("kubernetes.io/") for k in subnet.inputs["tags"])


def test_isolated_subnets_have_no_internet_route(stack_run):
    run = stack_run("prod")
    isolated_rt = run.named("network-isolated-rt")
    routes = [
        r for r in run.of_type("aws:ec2/route:Route")
        if r.inputs["routeTableId"] == f"{isolated_rt.name}-id"
    ]
    assert routes == []


# Inputs through which a resource joins security groups (ALB, launch template, RDS, ElastiCache,
# VPC endpoints); a group no resource joins filters nothing and only misleads a reader.
_ATTACHING_INPUTS = ("securityGroups", "vpcSecurityGroupIds", "securityGroupIds")


@pytest.mark.parametrize("stack", EXPECTED)
def test_every_security_group_is_attached_to_something(stack_run, stack):
    run = stack_run(stack)
    attached = {
        group_id
        for resource in run.resources
        for key in _ATTACHING_INPUTS
        for group_id in resource.inputs.get(key) or []
    }
    groups = run.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert groups
    unused = [g.name for g in groups if f"{g.name}-id" not in attached]
    assert unused == [], f"{stack}: security groups nothing joins: {unused}"


def test_every_aws_resource_gets_the_default_tags(stack_run):
    run = stack_run("staging")
    provider = run.named("aws")
    assert '"quintet.io/stack": "staging"' in provider.inputs["defaultTags"]
    assert '"quintet.io/tier": "staging"' in provider.inputs["defaultTags"]
    aws_resources = [r for r in run.resources if r.type.startswith("aws:")]
    assert aws_resources
    assert {r.provider for r in aws_resources} == {provider.urn}


def test_children_are_parented_and_prefixed(stack_run):
    run = stack_run("prod")
    for component in run.of_type("quintet:network:Network") + run.of_type(
        "quintet:registry:Registry"
    ):
        children = run.children_of(component)
        assert children
        assert all(c.name.startswith(f"{component.name}-") for c in children)


def test_registry_is_scanned_immutable_and_expires_images(stack_run):
    run = stack_run("prod")
    (repo,) = run.of_type("aws:ecr/repository:Repository")
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["name"] == "quintet-prod"
    (policy,) = run.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert '"countNumber": 100' in policy.inputs["policy"]  # prod keeps 100 images
    assert '"tagStatus": "untagged"' in policy.inputs["policy"]


def test_too_many_azs_for_the_region_is_a_clear_error(run_with):
    with pytest.raises(Exception, match="quintet:azCount: 4 is not allowed; the region has 3"):
        run_with("dev", {"quintet:azCount": 4})


def test_plan_subnets_is_aligned_and_rejects_overflow():
    plans = plan_subnets("10.0.0.0/16", 3, {"public": 24, "private": 19, "isolated": 26})
    for plan in plans:
        net = ipaddress.ip_network(plan.cidr)
        assert int(net.network_address) % net.num_addresses == 0
    with pytest.raises(CidrTooSmall):
        plan_subnets("10.0.0.0/20", 2, {"public": 24, "private": 20, "isolated": 24})
