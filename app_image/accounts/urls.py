"""Accounts URLs."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("csrf/", views.CsrfTokenApi.as_view(), name="csrf-token"),
    path("signup/", views.UserSignupApi.as_view(), name="user-signup"),
    path("session/", views.SessionCreateApi.as_view(), name="session-create"),
    path("tokens/", views.TokenCreateApi.as_view(), name="token-create"),
    path("me/", views.UserMeApi.as_view(), name="user-me"),
]
