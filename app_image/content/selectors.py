"""Content reads. Plain queries go to a replica (see core.routing); feeds are cached."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from content.models import Article
from core.caching import cache_read_through

FEED_SIZE = 20


def feed_key(*, section_slug: str | None = None) -> str:
    """The cache key of the homepage feed, or of one section's feed."""
    return f"feed:{section_slug}" if section_slug else "feed:home"


def article_list(*, section_slug: str | None = None, limit: int = FEED_SIZE) -> QuerySet[Article]:
    """Newest articles first, optionally of one section."""
    articles = Article.objects.select_related("section").order_by("-published_at", "-id")
    if section_slug:
        articles = articles.filter(section__slug=section_slug)
    return articles[:limit]


def article_get(*, slug: str) -> Article | None:
    """One article by slug, or None."""
    return Article.objects.select_related("section").filter(slug=slug).first()


def _feed_build(section_slug: str | None) -> list[dict[str, Any]]:
    return [
        {"slug": a.slug, "title": a.title, "section": a.section.name,
         "published_at": a.published_at.isoformat()}
        for a in article_list(section_slug=section_slug)
    ]


def feed_get(*, section_slug: str | None = None) -> list[dict[str, Any]]:
    """The feed as plain data, read through the cache with single-flight rebuilds."""
    return cache_read_through(key=feed_key(section_slug=section_slug),
                              build=lambda: _feed_build(section_slug))
