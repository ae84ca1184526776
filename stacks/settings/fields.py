"""How a setting is declared: its config key, description, constraints and per-tier defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

CONFIG_NAMESPACE = "quintet"


@dataclass(frozen=True)
class Spec:
    """What the loader, the validator and the docs need to know about one setting."""

    key: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    secret: bool = False
    kind: str = ""  # extra semantic check: "cidr", "cidr-list", "email-list", "dns-name",
    # "kubernetes-version", "image-tag", "image-digest"
    why: str = ""  # said after the allowed choices when a value is refused: why not others


def setting(
    default: Any,
    key: str,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | None = None,
    secret: bool = False,
    kind: str = "",
    why: str = "",
) -> Any:
    """Declares a dataclass field that is a stack setting under ``quintet:<key>``."""
    spec = Spec(key, description, minimum, maximum, choices, secret, kind, why)
    if isinstance(default, list | dict):
        frozen = default.copy()
        return field(default_factory=lambda: frozen.copy(), metadata={"spec": spec})
    return field(default=default, metadata={"spec": spec})


def spec_of(f: dataclasses.Field) -> Spec:
    """The Spec attached to a settings field."""
    return f.metadata["spec"]
