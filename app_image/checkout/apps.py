"""Checkout: preparing a checkout against third-party checks, and orders."""

from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    """The checkout bounded context."""

    name = "checkout"
