"""Pure CIDR arithmetic: carve one VPC CIDR into public, private and isolated subnets per AZ."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

SUBNET_TIERS = ("private", "public", "isolated")


class CidrTooSmall(ValueError):
    """The VPC CIDR cannot hold the subnets asked for."""


@dataclass(frozen=True)
class SubnetPlan:
    """One subnet to create: its tier, AZ index and CIDR."""

    tier: str
    az_index: int
    cidr: str


def plan_subnets(
    vpc_cidr: str, az_count: int, prefixes: dict[str, int]
) -> list[SubnetPlan]:
    """Allocates ``az_count`` subnets per tier, largest blocks first so none is fragmented.

    Each block is aligned on its own size and taken in address order, so the same inputs always
    give the same CIDRs (adding an AZ appends subnets instead of moving existing ones only when
    the prefix sizes are unchanged; that is why sizes are settings and not derived).
    """
    network = ipaddress.ip_network(vpc_cidr, strict=True)
    needed = sum(2 ** (32 - prefixes[tier]) for tier in SUBNET_TIERS) * az_count
    if needed > network.num_addresses:
        raise CidrTooSmall(
            f"{az_count} AZs x (public /{prefixes['public']} + private /{prefixes['private']} + "
            f"isolated /{prefixes['isolated']}) need {needed} addresses; "
            f"{vpc_cidr} has {network.num_addresses}"
        )
    order = sorted(SUBNET_TIERS, key=lambda tier: prefixes[tier])
    cursor = int(network.network_address)
    plans: list[SubnetPlan] = []
    for tier in order:
        size = 2 ** (32 - prefixes[tier])
        for az in range(az_count):
            cursor = -(-cursor // size) * size  # align up to the block size
            block = ipaddress.ip_network((cursor, prefixes[tier]))
            if not block.subnet_of(network):
                raise CidrTooSmall(f"{vpc_cidr} runs out of room at the {tier} subnet of AZ {az}")
            plans.append(SubnetPlan(tier, az, str(block)))
            cursor += size
    return sorted(plans, key=lambda p: (SUBNET_TIERS.index(p.tier), p.az_index))
