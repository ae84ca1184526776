"""Content reads. Plain queries go to a replica (see core.routing); feeds are cached."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet, Subquery

from content.models import Article, Section
from core.caching import cache_read_through

FEED_SIZE = 20
SECTIONS_KEY = "sections:slugs"
SECTION_NOT_FOUND = "no such section"


class SectionNotFound(LookupError):
    """The section asked for does not exist."""


def feed_key(*, section_slug: str | None = None) -> str:
    """The cache key of the homepage feed, or of one section's feed."""
    return f"feed:{section_slug}" if section_slug else "feed:home"


def article_list(*, section_slug: str | None = None, limit: int = FEED_SIZE) -> QuerySet[Article]:
    """Newest articles first, optionally of one section."""
    articles = Article.objects.select_related("section").order_by("-published_at", "-id")
    if section_slug:
        # The section's id as a subquery, not a join on its slug: the planner then reads the
        # 20 newest rows off (section, published_at, id) in order; through a join it cannot
        # carry the index order and walks the global feed index instead.
        section_id = Section.objects.filter(slug=section_slug).values("id")[:1]
        articles = articles.filter(section_id=Subquery(section_id))
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


def section_slugs() -> frozenset[str]:
    """Every section's slug (one small cached set, so unknown slugs cost no query)."""
    return cache_read_through(
        key=SECTIONS_KEY, build=lambda: frozenset(Section.objects.values_list("slug", flat=True)))


def feed_get(*, section_slug: str | None = None) -> list[dict[str, Any]]:
    """The feed as plain data, read through the cache with single-flight rebuilds.

    An unknown section raises SectionNotFound and caches nothing: walking made-up slugs
    must fill neither the cache nor the primary.
    """
    if section_slug is not None and section_slug not in section_slugs():
        raise SectionNotFound(SECTION_NOT_FOUND)
    return cache_read_through(key=feed_key(section_slug=section_slug),
                              build=lambda: _feed_build(section_slug))
