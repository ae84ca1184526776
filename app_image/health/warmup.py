"""Warm-up before the pod takes traffic: load what the first requests would load lazily."""

from __future__ import annotations

from django.template.loader import get_template
from django.urls import get_resolver

from health.readiness import app_mark_warmed

TEMPLATES = ("content/feed.html", "content/article.html")


def app_warm() -> None:
    """Build the URL resolver and compile the page templates, then mark the process warmed."""
    get_resolver().url_patterns  # noqa: B018  (forces the URLconf import)
    for name in TEMPLATES:
        get_template(name)
    app_mark_warmed()
