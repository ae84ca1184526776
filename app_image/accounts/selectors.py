"""Account reads."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.models import Profile


def user_profile_get(*, request: HttpRequest) -> dict[str, Any] | None:
    """The signed-in user's public profile, or None for anonymous clients.

    Loading the user is a read: without the read-your-writes pin it goes to a replica, which
    right after sign-up may not have the new row yet.
    """
    user = request.user
    if not user.is_authenticated:
        return None
    profile = Profile.objects.filter(user_id=user.pk).first()
    return {"id": user.pk, "username": user.get_username(), "email": getattr(user, "email", ""),
            "display_name": profile.display_name if profile else user.get_username()}
