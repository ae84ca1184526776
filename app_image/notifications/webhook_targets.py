"""Where a webhook may be sent: public HTTPS addresses only, checked after DNS resolution.

A subscriber chooses the URL, so without these checks a webhook is a request the platform makes
on an attacker's behalf from inside the VPC (SSRF): to the instance metadata service
(169.254.169.254, fd00:ec2::254), to private services, to loopback. Every address the name
resolves to must be public (`ipaddress.is_global`); the connection then goes to the checked
address (so a second, different DNS answer cannot swap it), with the name kept for TLS (SNI and
certificate check) and the Host header. Redirects are followed only if 307/308 (which keep the
POST) and each target is checked the same way. Local mode (WEBHOOKS_ALLOW_LOOPBACK) admits
plain-HTTP loopback receivers and nothing else.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
FOLLOWED_REDIRECTS = (307, 308)
ERROR_SCHEME = "webhook URLs must be https:// (plain http only to loopback, in local mode)"
ERROR_HOST = "webhook URL has no valid host"
ERROR_PORT = "webhook URL has a bad port"
ERROR_CREDENTIALS = "webhook URL must not carry credentials"
ERROR_ADDRESS = ("webhook host resolves to a non-public address (private, loopback, link-local, "
                 "metadata or reserved); only public addresses are allowed")
ERROR_UNRESOLVED = "webhook host does not resolve"
ERROR_REDIRECTS = "webhook endpoint redirected too many times"


class WebhookTargetRefused(ValueError):
    """The URL (or a redirect) points where webhooks may not go; the message is safe to show."""


@dataclass(frozen=True)
class WebhookTarget:
    """A checked target: the URL, its host and port, and the address to connect to."""

    url: str
    host: str
    port: int
    address: IPAddress


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookTargetRefused(ERROR_UNRESOLVED) from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _allowed(address: IPAddress, *, loopback_ok: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    if address.is_loopback:
        return loopback_ok
    return address.is_global and not address.is_multicast


def webhook_target_check(*, url: str) -> WebhookTarget:
    """Check `url` (scheme, host, every resolved address); refuse with a reason."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise WebhookTargetRefused(ERROR_CREDENTIALS)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookTargetRefused(ERROR_SCHEME if parts.hostname else ERROR_HOST)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookTargetRefused(ERROR_PORT) from exc
    loopback_ok = bool(settings.WEBHOOKS_ALLOW_LOOPBACK)
    if parts.scheme == "http" and not loopback_ok:
        raise WebhookTargetRefused(ERROR_SCHEME)  # before any DNS lookup
    addresses = _resolve(parts.hostname, port)
    if not addresses or not all(_allowed(a, loopback_ok=loopback_ok) for a in addresses):
        raise WebhookTargetRefused(ERROR_ADDRESS)
    if parts.scheme == "http" and not (loopback_ok and all(a.is_loopback for a in addresses)):
        raise WebhookTargetRefused(ERROR_SCHEME)
    return WebhookTarget(url=url, host=parts.hostname, port=port, address=addresses[0])


def _pinned_url(target: WebhookTarget) -> str:
    parts = urlsplit(target.url)
    host = f"[{target.address}]" if target.address.version == 6 else str(target.address)
    return parts._replace(netloc=f"{host}:{target.port}").geturl()


def _host_header(target: WebhookTarget) -> str:
    parts = urlsplit(target.url)
    default = 443 if parts.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


def webhook_post(*, url: str, content: bytes, headers: dict[str, str],
                 timeout: float) -> httpx.Response:
    """POST to a checked target, following checked 307/308 redirects; refuse the rest."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for _ in range(int(settings.WEBHOOKS_MAX_REDIRECTS) + 1):
            target = webhook_target_check(url=url)
            response = client.post(
                _pinned_url(target), content=content,
                headers={**headers, "Host": _host_header(target)},
                extensions={"sni_hostname": target.host},
            )
            location = response.headers.get("Location")
            if response.status_code not in FOLLOWED_REDIRECTS or not location:
                return response
            url = urljoin(url, location)
    raise WebhookTargetRefused(ERROR_REDIRECTS)
