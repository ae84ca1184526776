"""Content: sections, articles, the homepage and section feeds."""

from django.apps import AppConfig


class ContentConfig(AppConfig):
    """The content bounded context."""

    name = "content"
