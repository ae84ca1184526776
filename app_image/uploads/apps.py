"""Uploads: files go from the client to S3 directly; the app only presigns and confirms."""

from django.apps import AppConfig


class UploadsConfig(AppConfig):
    """The uploads bounded context."""

    name = "uploads"
