"""The platform app: database routing, caching, idempotency, fan-out, the task outbox."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The platform helpers and the outbox table (core.models)."""

    name = "core"
