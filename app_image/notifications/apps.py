"""Notifications: what the platform sends after the fact (emails, webhooks, report exports)."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Deliveries through providers, their Celery tasks and the nightly maintenance."""

    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"
