"""Who may write: DRF authentication (knox tokens, sessions with CSRF) and permission checks.

Both authenticators read the primary: a token or account created a moment ago may not have
reached a replica, and write requests go to the primary anyway.
"""

from __future__ import annotations

from typing import Any

from knox.auth import TokenAuthentication
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.routing import pin_to_primary


class PrimaryTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <token>` (knox: stored as a digest, with an expiry)."""

    def authenticate(self, request: Request) -> Any:
        """Look the token up on the primary."""
        with pin_to_primary():
            return super().authenticate(request)


class PrimarySessionAuthentication(SessionAuthentication):
    """The session cookie; DRF then enforces CSRF (header X-CSRFToken and the Origin check)."""

    def authenticate(self, request: Request) -> Any:
        """Load the session's user from the primary, then let DRF check CSRF."""
        with pin_to_primary():
            user = getattr(request._request, "user", None)
            if user is not None:
                _ = user.is_active  # evaluate the lazy user here, on the primary
            return super().authenticate(request)


def permission_required(permission: str) -> type[BasePermission]:
    """A DRF permission class admitting authenticated users holding `permission`."""

    class HasPermission(BasePermission):
        message = f"this needs the {permission} permission"

        def has_permission(self, request: Request, view: Any) -> bool:
            user = request.user
            if not (user and user.is_authenticated):
                return False
            with pin_to_primary():
                return bool(user.has_perm(permission))

    HasPermission.__name__ = f"HasPermission[{permission}]"
    HasPermission.__doc__ = f"Admits users with {permission}."
    return HasPermission
