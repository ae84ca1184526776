"""Values a user must set before a real deploy: documentation ranges, example names, ids.

The shipped stacks and a fresh fork hold such values so that they plan offline at once. A real
``pulumi preview`` or ``up`` refuses to start while any remains (a zone id that does not exist
fails the zone lookup; a TEST-NET API CIDR lets no operator reach the cluster); the offline plan
lists them as warnings.
"""

from __future__ import annotations

import ipaddress
import re

from stacks.settings import Settings
from stacks.settings.fields import CONFIG_NAMESPACE

# RFC 5737 documentation ranges (TEST-NET-1, -2, -3).
DOCUMENTATION_NETS = tuple(
    ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
# RFC 2606 / RFC 6761 names reserved for documentation and testing.
_RESERVED_NAME = re.compile(
    r"(^|\.)(example\.(com|net|org)|[a-z0-9-]+\.(example|invalid|test|localhost))$"
)
# Account ids AWS's own documentation uses in examples.
EXAMPLE_ACCOUNT_IDS = ("123456789012", "111122223333", "444455556666", "000000000000")
_ZONE_ID = re.compile(r"^[0-9a-f]{32}$")


def _key(name: str) -> str:
    return f"{CONFIG_NAMESPACE}:{name}"


def is_placeholder_zone_id(zone_id: str) -> bool:
    """The example zone ids: one repeated character, or the hex digits in order."""
    return bool(_ZONE_ID.match(zone_id)) and (
        len(set(zone_id)) == 1 or zone_id == "0123456789abcdef" * 2
    )


def is_reserved_name(host: str) -> bool:
    """True for example.com and its kin (names that can never be the stack's own)."""
    return bool(_RESERVED_NAME.search(host.lower().rstrip(".")))


def _host_of(url: str) -> str:
    return re.sub(r"^[a-z]+://", "", url).split("/", 1)[0].split(":", 1)[0]


def placeholder_problems(settings: Settings) -> list[str]:
    """One line per value still a placeholder, naming the key and what to set."""
    found: list[str] = []
    edge, cluster, work = settings.edge, settings.cluster, settings.workloads
    if is_reserved_name(edge.domain):
        found.append(
            f"{_key('domain')}: {edge.domain!r} is a placeholder (reserved for documentation, "
            "RFC 2606); set the app's public host name, in a zone you control"
        )
    if edge.zone_id and is_placeholder_zone_id(edge.zone_id):
        found.append(
            f"{_key('cloudflareZoneId')}: {edge.zone_id!r} is a placeholder; set the id of the "
            "Cloudflare zone that holds the domain (dashboard: the zone's Overview, API section)"
        )
    docs_cidrs = [
        c for c in cluster.public_access_cidrs
        if any(ipaddress.IPv4Network(c).subnet_of(n) for n in DOCUMENTATION_NETS)
    ]
    if cluster.endpoint_public_access and docs_cidrs:
        found.append(
            f"{_key('clusterPublicAccessCidrs')}: {docs_cidrs} is a placeholder (a documentation "
            "range, RFC 5737: nobody's egress); set your CI runners' and operators' egress CIDRs"
        )
    for arn in cluster.admin_role_arns:
        if any(f":{account}:" in arn for account in EXAMPLE_ACCOUNT_IDS):
            found.append(
                f"{_key('clusterAdminRoleArns')}: {arn!r} names the example account id; set "
                "the ARN of a role in your account"
            )
    for key, url in (
        ("upstreamSanctionsUrl", work.upstream_sanctions_url),
        ("upstreamFraudUrl", work.upstream_fraud_url),
        ("upstreamAddressUrl", work.upstream_address_url),
    ):
        if is_reserved_name(_host_of(url)):
            found.append(
                f"{_key(key)}: {url!r} is a placeholder; set the provider's endpoint URL"
            )
    for email in settings.alarms.emails:
        if is_reserved_name(email.rsplit("@", 1)[-1]):
            found.append(
                f"{_key('alarmEmails')}: {email!r} is a placeholder; set an address that reads "
                "the alarms"
            )
    return found


REFUSAL_HINT = (
    "quintet: a real preview or up starts only once these are set (the offline plan, "
    "`make plan`, lists them as warnings)"
)
