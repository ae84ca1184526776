"""Walks the settings model: every leaf setting with its key, attribute path, type and default."""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass
from typing import Any

from stacks.settings.fields import CONFIG_NAMESPACE, Spec, spec_of
from stacks.settings.model import Settings


@dataclass(frozen=True)
class Leaf:
    """One setting: ``quintet:<key>`` maps to the attribute ``path`` of ``Settings``."""

    key: str
    path: tuple[str, ...]
    type: type
    spec: Spec
    default: Any

    @property
    def full_key(self) -> str:
        """The key as Pulumi config names it, with its namespace."""
        return f"{CONFIG_NAMESPACE}:{self.key}"

    @property
    def type_name(self) -> str:
        """The type as the docs and Pulumi.yaml name it."""
        return {int: "integer", bool: "boolean", str: "string", list: "array", float: "number"}[
            self.type
        ]


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def _walk(cls: type, prefix: str, path: tuple[str, ...], label: str = "") -> list[Leaf]:
    hints = typing.get_type_hints(cls)
    found: list[Leaf] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("section"):
            found += _walk(
                hints[f.name], f.metadata["prefix"], (*path, f.name), f.metadata["label"]
            )
            continue
        spec = spec_of(f)
        if label:
            spec = dataclasses.replace(spec, description=f"{label}: {spec.description}")
        key = prefix + spec.key[:1].upper() + spec.key[1:] if prefix else spec.key
        kind = typing.get_origin(hints[f.name]) or hints[f.name]
        found.append(Leaf(key, (*path, f.name), kind, spec, _default_of(f)))
    return found


@functools.cache
def leaves() -> tuple[Leaf, ...]:
    """Every setting of the model, in declaration order."""
    return tuple(_walk(Settings, "", ()))


@functools.cache
def leaves_by_key() -> dict[str, Leaf]:
    """Every setting, by its key without namespace."""
    return {leaf.key: leaf for leaf in leaves()}
