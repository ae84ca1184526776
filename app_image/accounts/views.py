"""Accounts' HTTP adapters (JSON): CSRF token, sign-up, session sign-in, API tokens, me.

Login CSRF is what these guard against: a cross-site request must never leave the victim's
browser signed in to an account the attacker chose. So a session is only ever started by a
request that passed Django's CSRF check (the `csrftoken` cookie echoed in `X-CSRFToken`, and on
HTTPS a same-origin Origin/Referer), and every body must be application/json.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model, login
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import get_token
from django.views import View
from rest_framework import serializers
from rest_framework.authentication import CSRFCheck
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import user_profile_get
from accounts.services import SignupError, user_signup, user_token_create
from core.api import JsonApi
from core.routing import pin_to_primary

ERROR_CREDENTIALS = "unknown username or wrong password"
ERROR_CSRF = "CSRF check failed: send the csrftoken cookie's value as X-CSRFToken"


def _csrf_passes(request: Request) -> bool:
    """Django's CSRF check of this request, as DRF's SessionAuthentication runs it."""
    check = CSRFCheck(lambda _request: None)  # type: ignore[arg-type, return-value]
    check.process_request(request._request)
    return check.process_view(request._request, None, (), {}) is None  # type: ignore[arg-type]


class CredentialsSerializer(serializers.Serializer):
    """A username and password."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class AnonymousJsonApi(JsonApi):
    """A JSON API for clients that have no credentials yet (CSRF handled explicitly)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class CsrfTokenApi(View):
    """Hand a browser its CSRF token (and cookie) before it signs up or in."""

    def get(self, request: HttpRequest) -> JsonResponse:
        """200 with the token; the csrftoken cookie rides along."""
        return JsonResponse({"csrf_token": get_token(request)})


class UserSignupApi(AnonymousJsonApi):
    """Create a customer account.

    With a passing CSRF check (a browser) the new account is signed in with a session; without
    one (an API client) it is not, and the answer carries an API token instead. A cross-site
    request can thus create an account, as anyone can, but never sign the victim in to it.
    """

    class InputSerializer(serializers.Serializer):
        """A new account."""

        username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        display_name = serializers.CharField(max_length=100, required=False, allow_blank=True)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            """Run Django's password validators (length, common, numeric, similarity)."""
            user = get_user_model()(username=attrs["username"], email=attrs["email"])
            try:
                validate_password(attrs["password"], user=user)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": list(exc.messages)}) from exc
            return attrs

    def post(self, request: Request) -> Response:
        """201 with the account, and a session (CSRF passed) or a token (no CSRF)."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = user_signup(**serializer.validated_data)
        except SignupError as exc:
            return Response({"error": str(exc), "fields": {"username": [str(exc)]}}, status=409)
        answer: dict[str, Any] = {"id": user.pk, "username": user.get_username()}
        if _csrf_passes(request):
            login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
            answer["session"] = True
        else:
            answer["session"] = False
            answer["token"] = user_token_create(user=user)
        return Response(answer, status=201)


class SessionCreateApi(AnonymousJsonApi):
    """Sign in with a session (browsers): CSRF is required, or it would be login CSRF."""

    def post(self, request: Request) -> Response:
        """200 and a session cookie, 401 for bad credentials, 403 without CSRF."""
        if not _csrf_passes(request):
            return Response({"error": ERROR_CSRF}, status=403)
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with pin_to_primary():
            user = authenticate(request._request, **serializer.validated_data)
        if user is None:
            return Response({"error": ERROR_CREDENTIALS}, status=401)
        login(request._request, user)
        return Response({"id": user.pk, "username": user.get_username()})


class TokenCreateApi(AnonymousJsonApi):
    """Get an API token for a username and password (API clients; no cookie is set)."""

    def post(self, request: Request) -> Response:
        """201 with the token (shown once), or 401."""
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with pin_to_primary():
            user = authenticate(request._request, **serializer.validated_data)
        if user is None:
            return Response({"error": ERROR_CREDENTIALS}, status=401)
        return Response({"token": user_token_create(user=user)}, status=201)


class UserMeApi(View):
    """The signed-in user."""

    def get(self, request: HttpRequest) -> JsonResponse:
        """200 with the profile, or 401."""
        profile = user_profile_get(request=request)
        if profile is None:
            return JsonResponse({"error": "not signed in"}, status=401)
        return JsonResponse(profile)
