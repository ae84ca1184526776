"""Accounts: sign-up and the current user (Django's auth User is its data)."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """The accounts bounded context."""

    name = "accounts"
