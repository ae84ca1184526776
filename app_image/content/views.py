"""Content's HTTP adapters: HTML pages (anonymous, edge-cacheable) and the editors' JSON APIs."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from content.selectors import SectionNotFound, article_get, feed_get
from content.services import ArticleNotFound, article_create, article_update
from core.api import JsonApi
from core.auth import permission_required
from core.caching import CacheBuildBusy

BODY_MAX_LENGTH = 100_000
ERROR_NOTHING_TO_CHANGE = "give title, body or both"
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


class ArticleCreateApi(JsonApi):
    """Publish an article (editors only: `content.add_article`)."""

    permission_classes = [permission_required("content.add_article")]

    class InputSerializer(serializers.Serializer):
        """A new article."""

        section = serializers.SlugField(max_length=50)
        title = serializers.CharField(max_length=200)
        body = serializers.CharField(max_length=BODY_MAX_LENGTH)

    def post(self, request: Request) -> Response:
        """Validate, create, answer 201 with the slug."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        article = article_create(section_slug=data["section"], title=data["title"],
                                 body=data["body"])
        return Response({"slug": article.slug}, status=201)


class ArticleUpdateApi(JsonApi):
    """Edit an article's title and/or body (editors only: `content.change_article`)."""

    permission_classes = [permission_required("content.change_article")]

    class InputSerializer(serializers.Serializer):
        """The fields to change (at least one)."""

        title = serializers.CharField(max_length=200, required=False)
        body = serializers.CharField(max_length=BODY_MAX_LENGTH, required=False)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            """Refuse an edit that changes nothing."""
            if not attrs:
                raise serializers.ValidationError(ERROR_NOTHING_TO_CHANGE)
            return attrs

    def patch(self, request: Request, slug: str) -> Response:
        """Validate, update, answer 200 with the slug, or 404."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            article = article_update(slug=slug, **serializer.validated_data)
        except ArticleNotFound as missing:
            return Response({"error": str(missing)}, status=404)
        return Response({"slug": article.slug})
