"""Accounts URLs."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("signup/", views.UserSignupApi.as_view(), name="user-signup"),
    path("me/", views.UserMeApi.as_view(), name="user-me"),
]
