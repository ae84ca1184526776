"""Reads Pulumi.yaml and Pulumi.<stack>.yaml as the Pulumi CLI would hand them to the program."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stacks.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILE = ROOT / "Pulumi.yaml"
PLACEHOLDER_SECRET = "[secret]"


@dataclass(frozen=True)
class StackConfig:
    """A stack's config as the engine passes it: string values, and which keys are secrets."""

    stack: str
    values: dict[str, str]
    secret_keys: list[str]


def available_stacks(root: Path = ROOT) -> list[str]:
    """Stack names that have a Pulumi.<stack>.yaml beside Pulumi.yaml."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def engine_string(value: Any) -> str:
    """Encodes a YAML value as the CLI passes config to programs (structured values as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def project_defaults(project_file: Path = PROJECT_FILE) -> dict[str, Any]:
    """Defaults declared in Pulumi.yaml's config block, keyed ``quintet:<key>``."""
    project = yaml.safe_load(project_file.read_text()) or {}
    name = project.get("name", "quintet")
    found: dict[str, Any] = {}
    for key, decl in (project.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(decl, dict) and "default" in decl:
            found[full] = decl["default"]
    return found


def read_stack_config(stack: str, root: Path = ROOT) -> StackConfig:
    """Loads ``Pulumi.<stack>.yaml`` with Pulumi.yaml's defaults applied beneath it.

    Secure values cannot be decrypted offline: they become the placeholder ``[secret]`` and
    their keys are flagged secret, which is all the program needs to plan.
    """
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(available_stacks(root)) or "none"
        raise ConfigError([f"stack {stack!r}: no file {path.name}; stacks here: {known}"])
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as bad:
        raise ConfigError([f"{path.name}: not valid YAML ({bad})"]) from None
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([f"{path.name}: `config` must be a mapping of key to value"])
    values = {k: engine_string(v) for k, v in project_defaults(root / "Pulumi.yaml").items()}
    secret_keys: list[str] = []
    for key, value in config.items():
        if ":" not in key:
            key = f"quintet:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = PLACEHOLDER_SECRET
            secret_keys.append(key)
        else:
            values[key] = engine_string(value)
    return StackConfig(stack, values, sorted(secret_keys))
