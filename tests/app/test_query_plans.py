"""Indexes follow the hot queries: EXPLAIN on the real Postgres, with enough rows to matter.

Each table gets tens of thousands of rows (dated long ago, so no other test sees them) and
fresh statistics; with so many rows the planner would otherwise choose a sequential scan or a
sort, so naming the index in the plan shows the index is what serves the query.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from local.dataservices import DataServices

pytestmark = pytest.mark.services
SECTIONS = 40
ARTICLES_PER_SECTION = 750
DELIVERIES = 30_000
OUTBOX = 100_000
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)


def _sql(sql: str, params: list[object] | None = None) -> None:
    from django.db import connections, transaction

    # The app role's statement_timeout (1.5 s in the tests) is for requests, not for seeding
    # 100k rows on a machine whose cores other tests keep busy.
    with transaction.atomic(using="default"), connections["default"].cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(sql, params)


@pytest.fixture(scope="module")
def many_rows(django_app: None, dataservices: DataServices) -> Iterator[str]:
    """Seed every table the hot queries read; yield the run's tag; delete it all afterwards."""
    tag = f"plan-{uuid.uuid4().hex[:6]}"
    _sql("INSERT INTO content_section (slug, name) "
         "SELECT %s || '-' || k, 'Plan ' || k FROM generate_series(1, %s) k", [tag, SECTIONS])
    _sql("INSERT INTO content_article (section_id, slug, title, body, published_at) "
         "SELECT s.id, s.slug || '-' || n, 'Plan ' || n, 'body', "
         "timestamptz '2000-01-01' + (n * 97 + s.id) * interval '1 minute' "
         "FROM content_section s, generate_series(1, %s) n WHERE s.slug LIKE %s",
         [ARTICLES_PER_SECTION, f"{tag}-%"])
    # Nearly every delivery is long sent; one in a thousand is still pending.
    _sql("INSERT INTO notifications_emaildelivery (dedupe_key, recipient, subject, body, status, "
         "provider_message_id, last_error, created_at) "
         "SELECT %s || '-' || n, 'a@example.com', 's', 'b', "
         "CASE WHEN n %% 1000 = 0 THEN 'pending' ELSE 'sent' END, '', '', "
         "timestamptz '2000-01-01' + n * interval '1 second' FROM generate_series(1, %s) n",
         [tag, DELIVERIES])
    _sql("INSERT INTO notifications_webhookendpoint (url, secret, active) "
         "VALUES ('http://127.0.0.1:9/plan', 's', false)")
    _sql("INSERT INTO notifications_webhookdelivery (dedupe_key, endpoint_id, event, payload, "
         "status, attempts, last_error, created_at) "
         "SELECT %s || '-' || n, (SELECT max(id) FROM notifications_webhookendpoint), 'e', "
         "'{}'::jsonb, CASE WHEN n %% 1000 = 0 THEN 'pending' ELSE 'sent' END, 0, '', "
         "timestamptz '2000-01-01' + n * interval '1 second' FROM generate_series(1, %s) n",
         [tag, DELIVERIES])
    _sql("INSERT INTO notifications_localoutboxmessage (idempotency_key, sender, recipient, "
         "subject, body, created_at) "
         "SELECT %s || '-' || n, 'f@example.com', 't@example.com', 's', 'b', "
         "timestamptz '2000-01-01' + n * interval '1 second' FROM generate_series(1, %s) n",
         [tag, OUTBOX])
    # As the superuser: the app role owns no table (the migrations role does), and Postgres
    # skips ANALYZE of another role's table with only a warning, leaving the stats stale.
    dataservices.psql("primary", "ANALYZE content_section, content_article, "
                      "notifications_emaildelivery, notifications_webhookdelivery, "
                      "notifications_localoutboxmessage")
    try:
        yield tag
    finally:
        pattern = f"{tag}-%"
        _sql("DELETE FROM content_article WHERE slug LIKE %s", [pattern])
        _sql("DELETE FROM content_section WHERE slug LIKE %s", [pattern])
        _sql("DELETE FROM notifications_emaildelivery WHERE dedupe_key LIKE %s", [pattern])
        _sql("DELETE FROM notifications_webhookdelivery WHERE dedupe_key LIKE %s", [pattern])
        _sql("DELETE FROM notifications_webhookendpoint WHERE url = 'http://127.0.0.1:9/plan'")
        _sql("DELETE FROM notifications_localoutboxmessage WHERE idempotency_key LIKE %s",
             [pattern])


def _plan(queryset: object) -> str:
    plan = str(queryset.using("default").explain())  # type: ignore[attr-defined]
    print(plan)
    return plan


def test_the_section_feed_reads_the_composite_index(many_rows: str) -> None:
    from content.selectors import article_list

    plan = _plan(article_list(section_slug=f"{many_rows}-7"))
    assert "article_section_feed_idx" in plan
    assert "Sort" not in plan  # the index order is the feed's order


def test_the_home_feed_reads_its_index_in_order(many_rows: str) -> None:
    from content.selectors import article_list

    plan = _plan(article_list())
    assert "article_feed_idx" in plan
    assert "Sort" not in plan


def test_pending_deliveries_past_a_cutoff_use_the_partial_indexes(many_rows: str) -> None:
    from notifications.models import DeliveryStatus, EmailDelivery, WebhookDelivery

    # The shape of notifications.services.maintenance_reconcile's two sweeps.
    for model, index in ((EmailDelivery, "emaildelivery_pending_idx"),
                         (WebhookDelivery, "webhookdelivery_pending_idx")):
        sweep = model.objects.filter(status=DeliveryStatus.PENDING,
                                     created_at__lt=LONG_AGO).values_list("pk", flat=True)
        assert index in _plan(sweep)


def test_the_outbox_cleanup_uses_the_brin_index(many_rows: str) -> None:
    from notifications.models import LocalOutboxMessage

    # maintenance_cleanup's outbox delete, as a select: the first ~1 % of a time-ordered table.
    cutoff = datetime(2000, 1, 1, 0, 15, tzinfo=UTC)
    plan = _plan(LocalOutboxMessage.objects.filter(created_at__lt=cutoff))
    assert "localoutbox_created_brin" in plan
