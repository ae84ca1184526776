"""The environment contract: load, validate and parse the variables listed in environment.json.

environment.json is the single list of variables the app reads (the kit reads it too). This
module holds only the parsers per `type`; it never names a variable on its own.
Run `python -m config.env` to validate the current environment (exit 2 with one message).
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

CONTRACT_PATH = Path(__file__).resolve().parent.parent / "environment.json"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ERROR_HEADER = "The environment does not satisfy the app's contract (environment.json):"


class EnvironmentContractError(ImproperlyConfigured):
    """One or more variables of the contract are missing or malformed; the message lists all."""


@dataclass(frozen=True)
class Variable:
    """One entry of environment.json."""

    name: str
    required: bool
    secret: bool
    type: str
    default: str | None
    description: str
    example: str


def contract_load(*, path: Path = CONTRACT_PATH) -> list[Variable]:
    """Read environment.json into Variables."""
    return [Variable(**entry) for entry in json.loads(path.read_text())]


def _secret_key(raw: str) -> str:
    if len(raw) < 50 or len(set(raw)) < 5 or raw.startswith("django-insecure-"):
        raise ValueError("must be at least 50 characters, not a django-insecure- key")
    return raw


def _host_list(raw: str) -> list[str]:
    hosts = [h.strip() for h in raw.split(",") if h.strip()]
    if not hosts:
        raise ValueError("must name at least one host")
    return hosts


def _url(raw: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"must be a URL with scheme {' or '.join(schemes)} and a host")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError("has a bad port") from exc
    return raw


def _postgres_url(raw: str) -> str:
    _url(raw, ("postgres", "postgresql"))
    if not urlsplit(raw).path.strip("/"):
        raise ValueError("must name a database (postgres://user:pass@host:port/dbname)")
    return raw


def _postgres_url_list(raw: str) -> list[str]:
    return [_postgres_url(u.strip()) for u in raw.split(",") if u.strip()]


def _int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be positive")
    return value


def _cidr_list(raw: str) -> str:
    # Returned as the comma-separated text uvicorn's --forwarded-allow-ips takes.
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items or "*" in items:
        raise ValueError("must list addresses or CIDRs (for example 10.0.0.0/24), never '*'")
    for item in items:
        try:
            ipaddress.ip_network(item)
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP address or CIDR") from exc
    return ",".join(items)


BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _bool(raw: str) -> bool:
    try:
        return BOOLEANS[raw.strip().lower()]
    except KeyError:
        raise ValueError("must be true or false") from None


def _log_level(raw: str) -> str:
    if raw.upper() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return raw.upper()


PARSERS: dict[str, Callable[[str], Any]] = {
    "string": str,
    "secret_key": _secret_key,
    "host_list": _host_list,
    "postgres_url": _postgres_url,
    "postgres_url_list": _postgres_url_list,
    "optional_postgres_url": lambda raw: _postgres_url(raw) if raw else "",
    "redis_url": lambda raw: _url(raw, ("redis", "rediss")),
    "http_url": lambda raw: _url(raw, ("http", "https")),
    "optional_http_url": lambda raw: _url(raw, ("http", "https")) if raw else "",
    "int": _int,
    "float": _float,
    "log_level": _log_level,
    "cidr_list": _cidr_list,
    "bool": _bool,
}


def environment_load(*, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Parse every contract variable from `environ`; raise one error naming every problem."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for var in contract_load():
        raw = environ.get(var.name)
        if raw is None or (raw == "" and var.required):
            if var.required:
                problems.append(f"  - {var.name} is missing: {var.description}")
                continue
            raw = var.default or ""
        try:
            values[var.name] = PARSERS[var.type](raw)
        except ValueError as exc:
            shown = "<secret>" if var.secret else repr(raw)
            problems.append(f"  - {var.name}={shown} is malformed: {exc}")
    if problems:
        raise EnvironmentContractError("\n".join([ERROR_HEADER, *problems]))
    return values


MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""Image-internal, not part of the contract: entrypoint.sh sets it for prometheus-client."""


def metrics_multiproc_dir() -> str:
    """Where this container's processes write their metric samples ('' outside the image)."""
    return os.environ.get(MULTIPROC_DIR_VARIABLE, "")


def example_environment() -> dict[str, str]:
    """The contract's example values (valid by construction; for build-time settings only)."""
    return {var.name: var.example for var in contract_load()}


def main() -> int:
    """Validate the process environment; print one clean message and return 2 on failure."""
    try:
        environment_load()
    except EnvironmentContractError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
