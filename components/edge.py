"""The edge tier: Cloudflare in front of the ALB (pulumi-cloudflare v6).

Importing ``pulumi_cloudflare`` costs seconds, so the reference stack imports this module only
when a stack uses Cloudflare (the edge, or DNS-only records in the zone).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_cloudflare as cloudflare

from components.edge_contract import EDGE_CONTRACT, EdgeContract
from components.load_balancer import DnsRecordFactory

AUTOMATIC_TTL = 1  # Cloudflare's "automatic"; the only TTL a proxied record takes
STATIC_EDGE_TTL = 365 * 24 * 3600  # hashed file names never change content
ZONE_SETTINGS = {"ssl": "strict", "always_use_https": "on", "min_tls_version": "1.2"}
"""TLS strict to the origin (the ALB's ACM certificate covers the domain), HTTPS only, TLS 1.2+."""
SSL_AUTOMATIC_MODE = ("ssl_automatic_mode", "custom")
"""New zones run Automatic SSL/TLS, which picks (and later changes) the encryption mode itself
and ignores a set ``ssl``; ``custom`` turns it off so ``ssl = strict`` is what applies."""


@dataclass(frozen=True)
class EdgeArgs:
    """Inputs of the edge tier."""

    zone_id: str
    """Cloudflare zone holding ``domain``."""
    domain: str
    """Public host name; a CNAME to the ALB."""
    origin_hostname: pulumi.Input[str]
    """The ALB's DNS name."""
    proxied: bool = True
    """Proxy through Cloudflare; False makes a DNS-only record (the edge disabled)."""
    manage_zone: bool = True
    """Own the zone's cache ruleset and TLS settings (only with the edge enabled: they are
    zone-wide, one entrypoint ruleset per zone and phase)."""
    contract: EdgeContract = field(default_factory=lambda: EDGE_CONTRACT)
    """The app's edge contract (app_image/edge.json): bypass cookies and methods, private
    paths. The local nginx edge is generated from the same file."""
    static_path_prefix: str = "/static/"
    """URL prefix of hashed static files."""


def cloudflare_ipv4_ranges() -> list[str]:
    """Cloudflare's published IPv4 ranges (the ALB is IPv4 only), sorted for stable names."""
    return sorted(cloudflare.get_ip_ranges().ipv4_cidrs)


def cloudflare_validation_record(zone_id: str) -> DnsRecordFactory:
    """A DnsRecordFactory writing the ACM validation record into the Cloudflare zone."""

    def create(
        resource_name: str,
        record_name: pulumi.Output[str],
        record_type: pulumi.Output[str],
        record_value: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Output[str]:
        record = cloudflare.DnsRecord(
            resource_name,
            zone_id=zone_id,
            # ACM hands out FQDNs with a trailing dot; Cloudflare stores names without it.
            name=record_name.apply(lambda n: n.rstrip(".")),
            type=record_type,
            content=record_value.apply(lambda v: v.rstrip(".")),
            ttl=AUTOMATIC_TTL,
            proxied=False,  # ACM must see the CNAME itself, not Cloudflare's addresses
            comment="ACM certificate validation",
            opts=opts,
        )
        return record.name

    return create


def _set(values: tuple[str, ...]) -> str:
    return "{" + " ".join(f'"{v}"' for v in values) + "}"


ORIGIN_LOCK_HEADER = "X-Quintet-Origin-Lock"
"""The request header the edge adds and the ALB demands (components.load_balancer.OriginLock)."""


def origin_lock_ruleset(
    name: str, zone_id: str, domain: str, secret: pulumi.Input[str]
) -> cloudflare.Ruleset:
    """The zone's request header transform ruleset: every request to ``domain`` reaches the
    origin with ``X-Quintet-Origin-Lock: <secret>``. Scoped to the host, so other origins of the
    zone never see the secret; ``set`` replaces a header a client sent itself."""
    return cloudflare.Ruleset(
        name,
        zone_id=zone_id,
        name="quintet origin lock",
        description="the ALB forwards only requests carrying this header",
        kind="zone",
        phase="http_request_late_transform",
        rules=[
            {
                "ref": "origin_lock_header",
                "description": f"the origin lock header on requests to {domain}",
                "expression": f'(http.host eq "{domain}")',
                "action": "rewrite",
                "action_parameters": {
                    "headers": {
                        ORIGIN_LOCK_HEADER: {
                            "operation": "set",
                            "value": pulumi.Output.secret(secret),
                        }
                    }
                },
            }
        ],
    )



def cache_rules(contract: EdgeContract, static_path_prefix: str) -> list[dict]:
    """The rules of the cache settings ruleset, in order (a later match overrides an earlier).

    1. The cacheable methods are eligible, but HTML is cached only when the origin says so
       (``Cache-Control``); without the header Cloudflare bypasses (``bypass_by_default``), so
       pages are never cached by accident.
    2. Hashed static files: a year at the edge; the browser follows the origin's headers.
    3. Any bypass cookie of the contract (session, read-your-writes) or another method bypasses
       the cache (outside static): Cloudflare ignores ``Vary: Cookie``.
    """
    static = f'starts_with(http.request.uri.path, "{static_path_prefix}")'
    cacheable = f"(http.request.method in {_set(contract.cacheable_methods)})"
    cookies = " or ".join(f'http.cookie contains "{name}="' for name in contract.bypass_cookies)
    return [
        {
            "ref": "anonymous_pages_follow_origin",
            "description": "GET/HEAD cached only as the origin's Cache-Control allows",
            "expression": cacheable,
            "action": "set_cache_settings",
            "action_parameters": {
                "cache": True,
                "edge_ttl": {"mode": "bypass_by_default"},
                "browser_ttl": {"mode": "respect_origin"},
            },
        },
        {
            "ref": "hashed_static_long_ttl",
            "description": "hashed static files cached at the edge for a year",
            "expression": f"{static} and {cacheable}",
            "action": "set_cache_settings",
            "action_parameters": {
                "cache": True,
                "edge_ttl": {"mode": "override_origin", "default": STATIC_EDGE_TTL},
                "browser_ttl": {"mode": "respect_origin"},
            },
        },
        {
            "ref": "session_or_unsafe_method_bypass",
            "description": "sessions, read-your-writes pins and writes never touch the cache",
            "expression": f"not {static} and (not {cacheable} or {cookies})",
            "action": "set_cache_settings",
            "action_parameters": {"cache": False},
        },
    ]


def private_path_rules(contract: EdgeContract) -> list[dict]:
    """The custom firewall rules: the contract's private paths (the deep health report) are
    never served to the public; monitors reach them inside the VPC."""
    paths = tuple(sorted({*contract.private_paths, *(f"{p}/" for p in contract.private_paths)}))
    return [
        {
            "ref": "private_paths_blocked",
            "description": "the deep health report is not public",
            "expression": f"(http.request.uri.path in {_set(paths)})",
            "action": "block",
        }
    ]


class Edge(pulumi.ComponentResource):
    """Creates: the CNAME of the domain to the ALB (proxied with the edge, DNS-only without it)
    and, when it manages the zone, the cache settings ruleset, the firewall ruleset blocking the
    private paths, and the zone's TLS settings (Automatic SSL/TLS off, then SSL strict, always
    HTTPS, minimum TLS 1.2). The zone is looked up from its id and must hold the domain."""

    record_hostname: pulumi.Output[str]
    zone_name: str

    def __init__(
        self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("quintet:edge:Edge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        zone = cloudflare.get_zone(zone_id=args.zone_id, opts=pulumi.InvokeOptions(parent=self))
        self.zone_name = zone.name
        if args.domain != zone.name and not args.domain.endswith(f".{zone.name}"):
            raise pulumi.RunError(
                f"quintet:domain: {args.domain!r} is not allowed; it must lie in the Cloudflare "
                f"zone {zone.name!r} (quintet:cloudflareZoneId = {args.zone_id})"
            )

        record = cloudflare.DnsRecord(
            f"{name}-app",
            zone_id=args.zone_id,
            name=args.domain,
            type="CNAME",
            content=args.origin_hostname,
            ttl=AUTOMATIC_TTL,
            proxied=args.proxied,
            comment="quintet: the app, through the ALB",
            opts=child,
        )
        if args.manage_zone:
            cloudflare.Ruleset(
                f"{name}-cache-rules",
                zone_id=args.zone_id,
                name="quintet cache rules",
                description="hashed static long at the edge; pages per origin; sessions bypass",
                kind="zone",
                phase="http_request_cache_settings",
                rules=cache_rules(args.contract, args.static_path_prefix),
                opts=child,
            )
            cloudflare.Ruleset(
                f"{name}-private-paths",
                zone_id=args.zone_id,
                name="quintet private paths",
                description="the deep health report is not served to the public",
                kind="zone",
                phase="http_request_firewall_custom",
                rules=private_path_rules(args.contract),
                opts=child,
            )
            mode_id, mode = SSL_AUTOMATIC_MODE
            automatic_off = cloudflare.ZoneSetting(
                f"{name}-{mode_id.replace('_', '-')}",
                zone_id=args.zone_id,
                setting_id=mode_id,
                value=mode,
                opts=child,
            )
            for setting_id, value in ZONE_SETTINGS.items():
                cloudflare.ZoneSetting(
                    f"{name}-{setting_id.replace('_', '-')}",
                    zone_id=args.zone_id,
                    setting_id=setting_id,
                    value=value,
                    # Set once Automatic SSL/TLS is off, or it may pick the mode over ours.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[automatic_off]),
                )

        self.record_hostname = record.name
        self.register_outputs({"record_hostname": self.record_hostname})
