"""`manage.py principal_create --username NAME --role editor|customer`: an account and a token."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.services import ROLE_PERMISSIONS, principal_create


class Command(BaseCommand):
    """Create an account with a role and print its API token (the only time it is shown)."""

    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        """--username, --role, and an optional --password (random otherwise)."""
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=sorted(ROLE_PERMISSIONS))
        parser.add_argument("--password", default=None)

    def handle(self, *args: Any, username: str, role: str, password: str | None,
               **options: Any) -> None:
        """Create and print the token on stdout."""
        _, token = principal_create(username=username, role=role,
                                    password=password or secrets.token_urlsafe(24))
        self.stdout.write(token)
