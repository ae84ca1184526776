"""Seed data for `make bench`, written straight into the primary (no app API, no credentials).

The bench reads what it seeds: one article for the uncached read, a full homepage feed, cold
sections for the stampede and a thousand sections for the Zipf workload. Rows are committed
before the app reads them; the app's cache is emptied afterwards so that every key the bench
calls cold is cold.
"""

from __future__ import annotations

import psycopg

from local.topology import Topology

ARTICLE_BODY = "A body read from the database on every request. " * 20


def _primary(topology: Topology) -> psycopg.Connection[tuple[object, ...]]:
    url = topology.dataservices().direct_primary_url.replace("postgres://", "postgresql://")
    return psycopg.connect(url, autocommit=True)


def sections_seed(topology: Topology, *, slugs: list[str], articles_each: int) -> None:
    """Create sections `slugs` with `articles_each` articles each (one statement per table)."""
    with _primary(topology) as conn:
        conn.execute(
            "INSERT INTO content_section (slug, name) SELECT s, s FROM unnest(%s::text[]) s "
            "ON CONFLICT (slug) DO NOTHING", [slugs])
        conn.execute(
            "INSERT INTO content_article (section_id, slug, title, body, published_at) "
            "SELECT sec.id, sec.slug || '-' || n, 'Bench ' || sec.slug || ' ' || n, %s, "
            "now() - n * interval '1 minute' FROM content_section sec, "
            "generate_series(1, %s) n WHERE sec.slug = ANY(%s) "
            "ON CONFLICT (slug) DO NOTHING", [ARTICLE_BODY, articles_each, slugs])

