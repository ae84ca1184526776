"""Account writes: sign-up, roles (editor, customer) and API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import IntegrityError, transaction
from django.db.models import Q
from knox.models import AuthToken

from accounts.models import Profile
from notifications.services import welcome_email_request

ERROR_USERNAME_TAKEN = "username already taken"
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "editor": ("content.add_article", "content.change_article", "uploads.add_upload"),
    "customer": ("checkout.add_order", "uploads.add_upload"),
}
"""What each role may do; a role is a Django group holding these permissions."""


class SignupError(ValueError):
    """Sign-up refused; the message is safe to show."""


@transaction.atomic
def user_signup(
    *, username: str, email: str, password: str, display_name: str = ""
) -> AbstractBaseUser:
    """Create a customer and their profile (refusing a taken username)."""
    users = get_user_model().objects
    if users.filter(username=username).exists():
        raise SignupError(ERROR_USERNAME_TAKEN)
    try:
        with transaction.atomic():
            user = users.create_user(username=username, email=email, password=password)
    except IntegrityError as exc:  # taken by a concurrent sign-up
        raise SignupError(ERROR_USERNAME_TAKEN) from exc
    Profile.objects.create(user=user, display_name=display_name or username)
    user_role_grant(user=user, role="customer")
    # Enqueued on commit: a rolled-back sign-up sends nothing.
    welcome_email_request(user_id=user.pk, email=email, display_name=display_name or username)
    return user


def _role_group(role: str) -> Group:
    try:
        with transaction.atomic():
            group, _ = Group.objects.get_or_create(name=role)
    except IntegrityError:  # created by a concurrent grant
        group = Group.objects.get(name=role)
    # One query for all of the role's permissions (a get per permission is an N+1).
    wanted = Q()
    for dotted in ROLE_PERMISSIONS[role]:
        app_label, codename = dotted.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    permissions = list(Permission.objects.filter(wanted))
    if len(permissions) != len(ROLE_PERMISSIONS[role]):
        raise LookupError(f"role {role!r} names a permission that does not exist: "
                          f"{', '.join(ROLE_PERMISSIONS[role])}")
    group.permissions.add(*permissions)
    return group


@transaction.atomic
def user_role_grant(*, user: AbstractBaseUser, role: str) -> None:
    """Give `user` a role (see ROLE_PERMISSIONS)."""
    if role not in ROLE_PERMISSIONS:
        raise ValueError(f"unknown role {role!r}; known: {', '.join(ROLE_PERMISSIONS)}")
    user.groups.add(_role_group(role))  # type: ignore[attr-defined]


def user_token_create(*, user: AbstractBaseUser) -> str:
    """A new API token for `user` (knox keeps only its digest; shown once)."""
    _, token = AuthToken.objects.create(user=user)
    return str(token)


@transaction.atomic
def principal_create(*, username: str, role: str, password: str) -> tuple[AbstractBaseUser, str]:
    """An operator-made account with a role, and an API token for it."""
    user = get_user_model().objects.create_user(username=username, password=password)
    user_role_grant(user=user, role=role)
    return user, user_token_create(user=user)
