"""Content writes."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from content.models import Article, Section
from content.selectors import SECTIONS_KEY, feed_key
from core.caching import cache_invalidate_on_commit


@transaction.atomic
def article_create(*, section_slug: str, title: str, body: str) -> Article:
    """Publish an article (creating its section if new) and drop the feeds it appears in."""
    section, section_created = Section.objects.get_or_create(
        slug=section_slug, defaults={"name": section_slug.replace("-", " ").title()}
    )
    base = slugify(title)[:180] or "article"
    slug, n = base, 1
    while Article.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    article = Article.objects.create(section=section, slug=slug, title=title, body=body)
    families = [feed_key(), feed_key(section_slug=section_slug)]
    cache_invalidate_on_commit(families=[*families, SECTIONS_KEY] if section_created else families)
    return article


ARTICLE_NOT_FOUND = "no such article"


class ArticleNotFound(LookupError):
    """The article to edit does not exist."""


@transaction.atomic
def article_update(*, slug: str, title: str | None = None, body: str | None = None) -> Article:
    """Edit an article's title or body and drop the feeds that show it, once committed."""
    changes = {k: v for k, v in {"title": title, "body": body}.items() if v is not None}
    # select_for_update: two concurrent edits serialise instead of one silently losing.
    article = Article.objects.select_for_update().select_related("section").filter(
        slug=slug).first()
    if article is None:
        raise ArticleNotFound(ARTICLE_NOT_FOUND)
    for field, value in changes.items():
        setattr(article, field, value)
    if changes:
        article.save(update_fields=list(changes))
        cache_invalidate_on_commit(
            families=[feed_key(), feed_key(section_slug=article.section.slug)]
        )
    return article
