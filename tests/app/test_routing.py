"""The database tier in-process: reads on the replica, atomic and pinned reads on the primary."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from local.dataservices import DataServices

pytestmark = pytest.mark.services


@pytest.fixture
def replay_paused(dataservices: DataServices, db_fresh: None) -> Iterator[DataServices]:
    """The replica stops applying WAL (it lags) for the duration of the test."""
    dataservices.wait_replica_caught_up()
    dataservices.pause_replay()
    try:
        yield dataservices
    finally:
        dataservices.resume_replay()
        dataservices.wait_replica_caught_up()


def _server_is_replica(alias: str) -> bool:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        return bool(cursor.fetchone()[0])


def test_plain_reads_are_served_by_the_replica(db_fresh: None) -> None:
    from content.models import Article
    from django.db import router

    alias = router.db_for_read(Article)
    assert alias == "replica_0"
    assert _server_is_replica(alias)
    assert not _server_is_replica(router.db_for_write(Article))


def test_lagging_replica_hides_a_write_unless_atomic_or_pinned(
    replay_paused: DataServices,
) -> None:
    from content.selectors import article_get
    from content.services import article_create
    from core.routing import pin_to_primary
    from django.db import transaction

    article = article_create(section_slug="news", title=f"Lag {uuid.uuid4()}", body="b")
    assert article_get(slug=article.slug) is None  # the replica has not replayed it
    with transaction.atomic():
        assert article_get(slug=article.slug) is not None  # inside atomic(): primary
    with pin_to_primary():
        assert article_get(slug=article.slug) is not None
    replay_paused.resume_replay()
    replay_paused.wait_replica_caught_up()
    assert article_get(slug=article.slug) is not None


def test_migrations_only_on_the_primary(django_app: None) -> None:
    from django.db import router

    assert router.allow_migrate("default", "content")
    assert not router.allow_migrate("replica_0", "content")


def test_database_settings_suit_pgbouncer_transaction_mode(django_app: None) -> None:
    from django.conf import settings

    for alias, db in settings.DATABASES.items():
        assert db["CONN_MAX_AGE"] == 0, alias
        assert db["DISABLE_SERVER_SIDE_CURSORS"] is True, alias
        assert db["ATOMIC_REQUESTS"] is False, alias
        assert db["OPTIONS"]["prepare_threshold"] is None, alias
        assert "options" not in db["OPTIONS"], alias  # PgBouncer rejects startup options


def test_repeated_queries_through_pgbouncer_do_not_collide_on_prepared_statements(
    db_fresh: None,
) -> None:
    from content.models import Article
    from django.db import connections

    # psycopg prepares a query after 5 runs by default; through transaction pooling the
    # statement then lands on another server connection ("_pg3_0 already exists").
    for _ in range(20):
        list(Article.objects.using("default").filter(slug="x"))
        list(Article.objects.using("replica_0").filter(slug="x"))
    connections.close_all()
