"""The read-through cache under races and failures: generations, TTLs, stale-while-revalidate,
lock takeover, capped fallbacks, unknown slugs. Real Redis, real Postgres, real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from local.dataservices import DataServices
from tests.app.conftest import APP_DIR, Principals, WebServer

pytestmark = pytest.mark.services
READERS = 50


def _cache_client(dataservices: DataServices) -> redis.Redis:
    return redis.Redis.from_url(dataservices.cache_url)


def wait_for(condition: Callable[[], bool], ceiling: float, what: str) -> None:
    """Poll `condition` until true; fail naming `what` after `ceiling` seconds."""
    deadline = time.monotonic() + ceiling
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Builds:
    """A builder that counts its calls and can be held inside the build."""

    def __init__(self, value: str, hold: threading.Event | None = None) -> None:
        self.value = value
        self.hold = hold
        self.entered = threading.Event()
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.count += 1
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(60), "the test never released the builder"
        return self.value


def _readers(n: int, read: Callable[[], str]) -> list[str]:
    results: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(n)

    def one() -> None:
        start.wait()
        value = read()
        with lock:
            results.append(value)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == n, "some reader never answered"
    return results


@pytest.fixture
def key(django_app: None) -> Iterator[str]:
    """A fresh cache key (its family is itself)."""
    from django.db import connections

    yield f"rt:{uuid.uuid4().hex}"
    connections.close_all()


def _make_stale(key: str) -> None:
    from django.core.cache import cache

    entry = cache.get(key)
    wait_for(lambda: time.time() >= entry[1], 5, "the entry to pass its freshness")


def test_a_build_racing_a_write_is_never_served_as_fresh(key: str) -> None:
    # The reader's build reads the row, then waits at a barrier while the writer commits its
    # update (and the on-commit invalidation runs); only then does the reader store.
    from content.models import Article
    from content.services import article_create
    from core.caching import cache_invalidate_on_commit, cache_read_through
    from django.db import transaction

    article = article_create(section_slug="race", title=f"old {key}", body="b")
    inside_build, stored = threading.Barrier(2), threading.Barrier(2)

    def build() -> str:
        title = Article.objects.get(pk=article.pk).title
        inside_build.wait(10)
        stored.wait(10)
        return title

    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(cache_read_through(key=key, build=build)))
    reader.start()
    inside_build.wait(10)  # the reader has read the old title
    with transaction.atomic():
        Article.objects.filter(pk=article.pk).update(title=f"new {key}")
        cache_invalidate_on_commit(families=[key])
    stored.wait(10)  # now let the reader store what it built
    reader.join(10)
    assert out == [f"old {key}"]
    fresh = cache_read_through(key=key, build=lambda: Article.objects.get(pk=article.pk).title)
    assert fresh == f"new {key}", "a build that raced the write was served as fresh"


def test_every_key_the_app_writes_expires(
    web: WebServer, dataservices: DataServices, key: str, principals: Principals
) -> None:
    from core.caching import cache_read_through

    cache_read_through(key=key, build=lambda: "read, never written")  # a family never bumped
    cache = _cache_client(dataservices)
    section = f"ttl-{uuid.uuid4().hex[:6]}"
    published = httpx.post(f"{web.url}/api/articles/", headers=Principals.headers(
        principals.editor), json={"section": section, "title": "T", "body": "b"})
    assert published.status_code == 201, published.text
    for path in ("/", f"/sections/{section}/"):
        assert httpx.get(f"{web.url}{path}").status_code == 200
    keys = cache.keys("*")
    assert any(b"feed:home" in k for k in keys) and any(b"rebuilds" in k for k in keys)
    assert any(b":gen:" in k for k in keys)
    forever = [k for k in keys if cache.ttl(k) == -1]
    assert forever == [], f"keys without an expiry: {forever}"


def test_an_expired_entry_is_served_stale_while_one_caller_rebuilds(key: str) -> None:
    from core.caching import cache_read_through

    cache_read_through(key=key, build=lambda: "v1", ttl=1)
    _make_stale(key)
    hold = threading.Event()
    slow = Builds("v2", hold)
    builder = threading.Thread(target=lambda: cache_read_through(key=key, build=slow, ttl=60))
    builder.start()
    assert slow.entered.wait(10)
    others = Builds("v2")
    results = _readers(READERS, lambda: cache_read_through(key=key, build=others,
                                                           wait_seconds=0.5))
    hold.set()
    builder.join(10)
    print(f"stale-while-revalidate: {READERS} readers, {slow.count + others.count} rebuild(s)")
    assert results == ["v1"] * READERS  # the stale page, at once
    assert slow.count + others.count == 1
    assert cache_read_through(key=key, build=others) == "v2"


def test_cold_readers_behind_a_hung_builder_run_capped_fallbacks(key: str) -> None:
    from core.caching import cache_read_through

    hold = threading.Event()
    hung = Builds("hung", hold)
    builder = threading.Thread(target=lambda: cache_read_through(key=key, build=hung))
    builder.start()
    assert hung.entered.wait(10)
    fallback = Builds("v1")
    results = _readers(READERS, lambda: cache_read_through(key=key, build=fallback,
                                                           wait_seconds=0.5))
    hold.set()
    builder.join(10)
    print(f"hung builder: {READERS} cold readers, {hung.count + fallback.count} rebuild(s)")
    assert results == ["v1"] * READERS
    assert hung.count + fallback.count <= 2


def _killed_builder(app_env: dict[str, str], key: str, lock_seconds: int) -> None:
    """A separate process takes the key's lock, starts building, and is SIGKILLed mid-build."""
    script = (
        "import django, sys, time\n"
        "django.setup()\n"
        "from core.caching import cache_read_through\n"
        "def build():\n"
        "    print('building', flush=True)\n"
        "    time.sleep(600)\n"
        f"cache_read_through(key={key!r}, build=build, lock_seconds={lock_seconds})\n"
    )
    env = {**app_env, "PYTHONPATH": str(APP_DIR)}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=APP_DIR, env=env,
                            stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"building"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_after_a_builder_is_killed_readers_get_stale_and_one_takes_over(
    key: str, app_env: dict[str, str], dataservices: DataServices
) -> None:
    from core.caching import cache_read_through

    cache_read_through(key=key, build=lambda: "v1", ttl=1)
    _make_stale(key)
    _killed_builder(app_env, key, lock_seconds=2)
    during = Builds("v2")
    results = _readers(READERS, lambda: cache_read_through(key=key, build=during,
                                                           wait_seconds=0.5))
    assert results == ["v1"] * READERS  # the dead holder's lock is still there: stale
    lock_key = f"q:{os.environ.get('CACHE_KEY_VERSION', '1')}:lock:{key}"
    cache = _cache_client(dataservices)
    wait_for(lambda: not cache.exists(lock_key), 10, "the dead builder's lock to expire")
    after = Builds("v2")
    results = _readers(READERS, lambda: cache_read_through(key=key, build=after))
    print(f"killed builder: {during.count} rebuild(s) while its lock lived, "
          f"{after.count} after it expired ({READERS} readers each)")
    assert during.count + after.count == 1  # exactly one caller took over
    assert set(results) <= {"v1", "v2"}
    assert cache_read_through(key=key, build=after) == "v2"


def test_cold_readers_take_over_a_dead_builders_lock(key: str, app_env: dict[str, str]) -> None:
    from core.caching import cache_read_through

    _killed_builder(app_env, key, lock_seconds=2)
    started = time.monotonic()
    takeover = Builds("v1")
    results = _readers(READERS, lambda: cache_read_through(key=key, build=takeover,
                                                           wait_seconds=30))
    elapsed = time.monotonic() - started
    print(f"cold takeover: {takeover.count} rebuild(s), all {READERS} answered in "
          f"{elapsed:.1f}s (lock 2 s, wait 30 s)")
    assert results == ["v1"] * READERS
    assert takeover.count == 1
    assert elapsed < 15, "the readers waited out their whole wait instead of taking over"


def test_unknown_section_is_404_and_caches_nothing(
    web: WebServer, dataservices: DataServices, principals: Principals
) -> None:
    slug = f"nope-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        response = httpx.get(f"{web.url}/sections/{slug}/")
        assert response.status_code == 404
        assert "no-store" in response.headers["Cache-Control"]
    assert _cache_client(dataservices).keys(f"*{slug}*") == []
    section = f"real-{uuid.uuid4().hex[:6]}"
    published = httpx.post(f"{web.url}/api/articles/", headers=Principals.headers(
        principals.editor), json={"section": section, "title": "T", "body": "b"})
    assert published.status_code == 201, published.text
    assert httpx.get(f"{web.url}/sections/{section}/").status_code == 200  # new ones show up


def test_ttl_none_is_refused(key: str) -> None:
    from core.caching import cache_read_through

    with pytest.raises(ValueError, match="positive"):
        cache_read_through(key=key, build=lambda: "x", ttl=0)
