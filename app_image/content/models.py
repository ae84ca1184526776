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
    published_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.title
