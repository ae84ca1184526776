"""Account writes."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.models import Profile
from notifications.services import welcome_email_request

ERROR_USERNAME_TAKEN = "username already taken"


class SignupError(ValueError):
    """Sign-up refused; the message is safe to show."""


@transaction.atomic
def user_signup(
    *, username: str, email: str, password: str, display_name: str = ""
) -> AbstractBaseUser:
    """Create a user and their profile (refusing a taken username)."""
    users = get_user_model().objects
    if users.filter(username=username).exists():
        raise SignupError(ERROR_USERNAME_TAKEN)
    user = users.create_user(username=username, email=email, password=password)
    Profile.objects.create(user=user, display_name=display_name or username)
    # Enqueued on commit: a rolled-back sign-up sends nothing.
    welcome_email_request(user_id=user.pk, email=email, display_name=display_name or username)
    return user
