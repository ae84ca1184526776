"""Accounts' HTTP adapters (JSON)."""

from __future__ import annotations

import json

from django.contrib.auth import login
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from accounts.selectors import user_profile_get
from accounts.services import SignupError, user_signup


@method_decorator(csrf_exempt, name="dispatch")
class UserSignupApi(View):
    """Create an account and sign it in."""

    def post(self, request: HttpRequest) -> JsonResponse:
        """Validate, create, start a session; 201."""
        try:
            data = json.loads(request.body)
            username, email, password = str(data["username"]), str(data["email"]), str(
                data["password"])
        except (ValueError, KeyError, TypeError):
            return JsonResponse({"error": "expected JSON {username, email, password}"}, status=400)
        try:
            user = user_signup(username=username, email=email, password=password,
                               display_name=str(data.get("display_name", "")))
        except SignupError as exc:
            return JsonResponse({"error": str(exc)}, status=409)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return JsonResponse({"id": user.pk, "username": username}, status=201)


class UserMeApi(View):
    """The signed-in user."""

    def get(self, request: HttpRequest) -> JsonResponse:
        """200 with the profile, or 401."""
        profile = user_profile_get(request=request)
        if profile is None:
            return JsonResponse({"error": "not signed in"}, status=401)
        return JsonResponse(profile)
