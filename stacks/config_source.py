"""Reads the stack's config as the engine handed it to the program, secrets flagged."""

from __future__ import annotations

from typing import Any

from pulumi.runtime import config as runtime_config


def current_config() -> tuple[dict[str, Any], set[str]]:
    """All config keys of the running stack with their raw values, and the set of secret keys."""
    raw: dict[str, Any] = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    secret = set(runtime_config.get_config_secret_keys_env())
    secret |= {key for key in raw if runtime_config.is_config_secret(key)}
    return raw, secret
