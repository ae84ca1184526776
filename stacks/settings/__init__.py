"""Typed stack settings: the model, tier presets, and validation of a stack's config."""

from stacks.settings.load import load_settings
from stacks.settings.model import (
    TIERS,
    CacheSettings,
    ClusterSettings,
    DatabaseSettings,
    EdgeSettings,
    ImageSettings,
    NetworkSettings,
    NodePoolSettings,
    Settings,
    WorkloadSettings,
)

__all__ = [
    "TIERS",
    "CacheSettings",
    "ClusterSettings",
    "DatabaseSettings",
    "EdgeSettings",
    "ImageSettings",
    "NetworkSettings",
    "NodePoolSettings",
    "Settings",
    "WorkloadSettings",
    "load_settings",
]
