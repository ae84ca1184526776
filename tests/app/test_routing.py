"""The database tier in-process: reads on the replica, atomic and pinned reads on the primary."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

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


def _take_turns(rounds: int, step: Callable[[int, int], None]) -> list[BaseException]:
    """Two threads (two Django connections, so two PgBouncer clients) run `step(thread, round)`
    strictly in turn; return what they raised."""
    from django.db import connections

    turns = [threading.Event(), threading.Event()]
    errors: list[BaseException] = []

    def client(me: int) -> None:
        try:
            for n in range(rounds):
                assert turns[me].wait(20), "the other client stalled"
                turns[me].clear()
                if not errors:
                    step(me, n)
                turns[1 - me].set()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
            turns[1 - me].set()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    turns[0].set()
    for t in threads:
        t.join(60)
    return errors


@pytest.mark.parametrize("alias", ["default", "replica_0"])
def test_interleaved_clients_do_not_collide_on_prepared_statements(
    db_fresh: None, alias: str
) -> None:
    from content.models import Article

    # psycopg prepares a query from its 5th run by default, naming it _pg3_0 in every client.
    # Two clients taking turns share PgBouncer's server connection, so the second one's
    # PREPARE meets the first one's ("prepared statement _pg3_0 already exists").
    errors = _take_turns(20, lambda me, n: list(Article.objects.using(alias).filter(slug="x")))
    assert errors == []


def test_iterating_while_another_client_holds_a_transaction(db_fresh: None) -> None:
    from content.models import Article
    from content.services import article_create
    from django.db import transaction
    from zeal import zeal_ignore

    with zeal_ignore():  # seeding, not the code under test
        for i in range(4):
            article_create(section_slug="cursor", title=f"Cursor {i} {uuid.uuid4()}", body="b")
    # A server-side cursor lives on one server connection; while another client holds that
    # connection in a transaction, PgBouncer hands the next FETCH to a different one
    # ("cursor ... does not exist"). Client-side iteration has nothing to lose.
    rows: list[int] = []
    iterator = None
    open_tx = None

    def step(me: int, n: int) -> None:
        nonlocal iterator, open_tx
        if me == 0:
            if iterator is None:
                iterator = Article.objects.using("default").order_by("id").values_list(
                    "id", flat=True).iterator(chunk_size=1)
            rows.append(next(iterator))
        elif open_tx is None:
            open_tx = transaction.atomic(using="default")
            open_tx.__enter__()
            list(Article.objects.using("default").filter(slug="x"))
        elif n == 2:
            open_tx.__exit__(None, None, None)

    errors = _take_turns(3, step)
    assert errors == [] and len(rows) == 3 and rows == sorted(rows)


@pytest.fixture
def two_replica_aliases(db_fresh: None) -> Iterator[list[str]]:
    """A second replica alias (the same server), so routing has a choice to make."""
    from django.conf import settings
    from django.db import connections
    from django.test import override_settings

    connections.settings["replica_1"] = {**connections.settings["replica_0"]}
    with override_settings(REPLICA_DATABASES=["replica_0", "replica_1"]):
        yield ["replica_0", "replica_1"]
    connections["replica_1"].close()
    del connections.settings["replica_1"]
    assert settings.REPLICA_DATABASES == ["replica_0"]


def test_one_request_reads_from_one_replica(two_replica_aliases: list[str]) -> None:
    from content.models import Article
    from core.routing import routing_state_begin, routing_state_end
    from django.db import router

    seen_across_requests = set()
    for _ in range(40):
        token = routing_state_begin(pinned=False)
        try:
            aliases = {router.db_for_read(Article) for _ in range(20)}
        finally:
            routing_state_end(token)
        assert len(aliases) == 1, f"one request read from {aliases}"
        seen_across_requests |= aliases
    assert seen_across_requests == set(two_replica_aliases)  # requests still spread


def test_an_instance_hint_never_overrides_atomic_or_a_pin(db_fresh: None) -> None:
    from content.models import Article
    from content.services import article_create
    from core.routing import pin_to_primary, routing_state_begin, routing_state_end
    from django.db import router, transaction

    article_create(section_slug="hint", title=f"Hint {uuid.uuid4()}", body="b")
    loaded = Article(pk=1)
    loaded._state.db = "replica_0"  # as if loaded from the replica
    assert router.db_for_read(Article, instance=loaded) == "replica_0"
    with transaction.atomic():
        assert router.db_for_read(Article, instance=loaded) == "default"
    with pin_to_primary():
        assert router.db_for_read(Article, instance=loaded) == "default"
    token = routing_state_begin(pinned=True)  # a client inside its read-your-writes window
    try:
        assert router.db_for_read(Article, instance=loaded) == "default"
    finally:
        routing_state_end(token)


def test_a_stopped_replica_is_skipped_and_retried_after_a_back_off(
    dataservices: DataServices, db_fresh: None
) -> None:
    from content.models import Article
    from core import replica_health
    from core.routing import routing_state_begin, routing_state_end
    from django.db import connections, router

    def one_request() -> tuple[str, float]:
        started = time.perf_counter()
        token = routing_state_begin(pinned=False)
        try:
            alias = router.db_for_read(Article)
            list(Article.objects.all()[:1])
        finally:
            routing_state_end(token)
            connections.close_all()  # as at the end of a request (CONN_MAX_AGE=0)
        return alias, time.perf_counter() - started

    healthy = sorted(t for alias, t in (one_request() for _ in range(20)) if alias == "replica_0")
    assert len(healthy) == 20
    dataservices.stop_service("replica")
    try:
        first = one_request()
        later = [one_request() for _ in range(20)]
        attempts = replica_health.replica_failures("replica_0")
        # Once the back-off runs out, concurrent requests send exactly one probe (half-open).
        deadline = time.monotonic() + replica_health.BACKOFF_MAX_SECONDS
        while replica_health.replica_open("replica_0"):
            assert time.monotonic() < deadline, "the back-off never ran out"
            time.sleep(0.05)
        before = replica_health.replica_failures("replica_0")
        probers = [threading.Thread(target=one_request) for _ in range(10)]
        for t in probers:
            t.start()
        for t in probers:
            t.join(30)
        probes = replica_health.replica_failures("replica_0") - before
    finally:
        dataservices.start_service("replica")
    times = sorted(t for _, t in later)
    print(f"replica up: median request {healthy[10] * 1000:.1f} ms; replica stopped: first read "
          f"{first[1] * 1000:.0f} ms (on {first[0]}), then median "
          f"{times[len(times) // 2] * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms on the primary")
    assert first[0] == "default"  # the read that met the failure fell back too
    assert {alias for alias, _ in later} == {"default"}
    assert 1 <= attempts <= 4, f"the dead replica was tried {attempts} times in 21 requests"
    assert probes == 1, f"{probes} concurrent probes of a recovering replica"
    # Skipped, not retried per request: far below PgBouncer's query_wait_timeout (10 s here).
    assert times[len(times) // 2] < 1.0, times
    deadline = time.monotonic() + replica_health.BACKOFF_MAX_SECONDS + 30
    while one_request()[0] != "replica_0":  # back-off runs out, one probe, breaker closes
        assert time.monotonic() < deadline, "the replica was never retried"
        time.sleep(0.2)
    dataservices.wait_replica_caught_up()
