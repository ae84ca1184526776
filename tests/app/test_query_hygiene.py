"""Query hygiene: django-zeal fails N+1s in the whole suite; hot endpoints keep a query budget.

Budgets count every alias (primary and replica) and are measured in-process with Django's
test client against the real Postgres, PgBouncer and Redis of the harness.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from local.dataservices import DataServices
from tests.app.query_budget import max_queries

pytestmark = pytest.mark.services


@dataclass(frozen=True)
class Published:
    """A section with a few articles, for the budgets."""

    section: str
    article: str


@pytest.fixture
def published(django_app: None, dataservices: DataServices) -> Iterator[Published]:
    """A fresh section with three articles (written through the ORM), on the replica too."""
    from content.models import Article, Section

    tag = f"hygiene-{uuid.uuid4().hex[:6]}"
    section = Section.objects.create(slug=tag, name=tag)
    for n in range(3):
        Article.objects.create(section=section, slug=f"{tag}-{n}", title=f"T {n}", body="b")
    dataservices.wait_replica_caught_up()  # the pages read the replica
    try:
        yield Published(section=tag, article=f"{tag}-0")
    finally:
        Article.objects.filter(section=section).delete()
        section.delete()


@pytest.fixture
def client(django_app: None) -> object:
    """Django's test client (in-process: the queries it causes run in this process)."""
    from django.test import Client

    return Client()


def _cold() -> None:
    from django.core.cache import cache

    cache.clear()


def test_zeal_fails_an_injected_n_plus_one(published: Published) -> None:
    from content.models import Article
    from zeal import NPlusOneError

    # The N+1 select_related("section") exists to prevent: one query per article's section.
    with pytest.raises(NPlusOneError, match=r"N\+1 detected on content\.Article\.section"):
        [a.section.name for a in Article.objects.filter(section__slug=published.section)]


def test_an_article_page_is_one_query(published: Published, client: object) -> None:
    with max_queries(1):
        response = client.get(f"/articles/{published.article}/")  # type: ignore[attr-defined]
    assert response.status_code == 200


# A section feed cold also loads the known section slugs once (one cached set: unknown slugs 404).
@pytest.mark.parametrize(("path", "cold_budget"), [("/", 1), ("/sections/{section}/", 2)])
def test_a_feed_costs_one_query_cold_and_none_warm(
    published: Published, client: object, path: str, cold_budget: int
) -> None:
    url = path.format(section=published.section)
    _cold()
    with max_queries(cold_budget):
        assert client.get(url).status_code == 200  # type: ignore[attr-defined]
    with max_queries(0):
        assert client.get(url).status_code == 200  # type: ignore[attr-defined]


def test_the_checkout_fan_out_touches_no_database(django_app: None, client: object) -> None:
    with max_queries(0):
        response = client.post(  # type: ignore[attr-defined]
            "/api/checkout/prepare/", {"email": "a@example.com", "amount_cents": 100},
            content_type="application/json")
    assert response.status_code == 200
