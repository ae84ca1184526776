"""Content's HTTP adapters: HTML pages (edge-cacheable when anonymous) and a publish API."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from content.selectors import SectionNotFound, article_get, feed_get
from content.services import ArticleNotFound, article_create, article_update
from core.caching import CacheBuildBusy

RETRY_AFTER_SECONDS = 2


def _busy(error: CacheBuildBusy) -> HttpResponse:
    # The database is too slow to build the page and nothing stale is left: say so, briefly.
    return HttpResponse(str(error), status=503, content_type="text/plain",
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class FeedHomeView(View):
    """The homepage: the newest articles."""

    def get(self, request: HttpRequest) -> HttpResponse:
        """Render the cached homepage feed."""
        try:
            items = feed_get()
        except CacheBuildBusy as busy:
            return _busy(busy)
        return render(request, "content/feed.html", {"title": "Latest", "items": items})


class FeedSectionView(View):
    """One section's feed."""

    def get(self, request: HttpRequest, section_slug: str) -> HttpResponse:
        """Render the cached section feed, or 404 for an unknown section."""
        try:
            items = feed_get(section_slug=section_slug)
        except SectionNotFound as missing:
            raise Http404(str(missing)) from None
        except CacheBuildBusy as busy:
            return _busy(busy)
        return render(request, "content/feed.html", {"title": section_slug, "items": items})


class ArticleDetailView(View):
    """One article."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        """Render an article or 404."""
        article = article_get(slug=slug)
        if article is None:
            raise Http404("no such article")
        return render(request, "content/article.html", {"article": article})


@method_decorator(csrf_exempt, name="dispatch")
class ArticleCreateApi(View):
    """Publish an article (JSON). A fork guards this with its editors' authentication."""

    def post(self, request: HttpRequest) -> JsonResponse:
        """Validate, create, answer 201 with the slug."""
        try:
            data = json.loads(request.body)
            section, title, body = str(data["section"]), str(data["title"]), str(data["body"])
        except (ValueError, KeyError, TypeError):
            return JsonResponse({"error": "expected JSON {section, title, body}"}, status=400)
        article = article_create(section_slug=section, title=title, body=body)
        return JsonResponse({"slug": article.slug}, status=201)


@method_decorator(csrf_exempt, name="dispatch")
class ArticleUpdateApi(View):
    """Edit an article (JSON PATCH of title and/or body). Forks guard it like publishing."""

    def patch(self, request: HttpRequest, slug: str) -> JsonResponse:
        """Validate, update, answer 200 with the slug, or 404."""
        try:
            data = json.loads(request.body)
            if not isinstance(data, dict) or not {"title", "body"} & set(data):
                raise ValueError
            title = str(data["title"]) if "title" in data else None
            body = str(data["body"]) if "body" in data else None
        except (ValueError, TypeError):
            return JsonResponse({"error": "expected JSON {title?, body?}"}, status=400)
        try:
            article = article_update(slug=slug, title=title, body=body)
        except ArticleNotFound as missing:
            return JsonResponse({"error": str(missing)}, status=404)
        return JsonResponse({"slug": article.slug})
