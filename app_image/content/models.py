"""Content's data: sections and their articles (owned here; other apps use the selectors)."""

from django.db import models


class Section(models.Model):
    """A section of the site (news, sport, ...) with its own feed."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    """A published article."""

    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="articles")
    slug = models.SlugField(unique=True, max_length=200)
    title = models.CharField(max_length=200)
    body = models.TextField()
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The two feed queries (content.selectors.article_list), newest first with id as the
        # tie-breaker, read their 20 rows straight off these indexes: no sort, no scan.
        indexes = [
            models.Index(fields=["section", "-published_at", "-id"],
                         name="article_section_feed_idx"),
            models.Index(fields=["-published_at", "-id"], name="article_feed_idx"),
        ]

    def __str__(self) -> str:
        return self.title
