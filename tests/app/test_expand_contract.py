"""Migrations applied while the previous release serves traffic, on real services of their own.

The running web processes are today's app (the previous release); the new release is a copy of
the app with one more migration. An expand step (a nullable column) applied under load costs
the running release nothing; a contract step shipped too early (dropping a column it still
reads) breaks it, which is why the lint refuses it. And migrate waits out a held lock by retrying
instead of failing the deploy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local.dataservices import DataServiceError, DataServices, free_port
from tests.app.conftest import APP_DIR, admin_env, run_entrypoint, start_web, stop_web

pytestmark = [pytest.mark.services, pytest.mark.slow]
ARTICLES = 400


@pytest.fixture(scope="module")
def own_services() -> Iterator[DataServices]:
    """Data services of this module alone: its migrations must not touch the shared ones."""
    state = Path(tempfile.mkdtemp(prefix="quintet-expand-"))
    services = DataServices(state)
    try:
        services.start()
        yield services
    finally:
        services.remove()  # also its home under /var/lib/quintet when run by root
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def own_env(app_env: dict[str, str], own_services: DataServices,
            migrated: object) -> dict[str, str]:
    """The app's environment pointed at this module's services, with the roles bootstrapped,
    migrated as the migrations role and seeded (as the bootstrap and migrate Jobs do; the shared
    ``migrated`` fixture also collects the static files the pages need)."""
    env = {**app_env, **own_services.urls()}
    admin = admin_env(env, own_services)
    for step in ("bootstrap", "migrate"):  # the roles, then the schema as its owner
        done = run_entrypoint([step], admin, timeout=300)
        assert done.returncode == 0, f"{step}: {done.stderr}"
    own_services.psql("primary", textwrap.dedent(f"""
        INSERT INTO content_section (slug, name) VALUES ('news', 'News');
        INSERT INTO content_article (section_id, slug, title, body, published_at)
        SELECT s.id, 'story-' || n, 'Story ' || n, 'Body of story ' || n, now()
        FROM content_section s, generate_series(1, {ARTICLES}) n;
    """))
    return env


def _release_with(tmp_path: Path, name: str, operations: str, extra: str = "",
                  base: Path = APP_DIR) -> Path:
    """A copy of ``base`` (the next release) with one more content migration, ``09xx_<name>``."""
    copy = tmp_path / name
    shutil.copytree(base, copy, ignore=shutil.ignore_patterns("staticfiles", "__pycache__"))
    existing = sorted(p.stem for p in (copy / "content" / "migrations").glob("0*.py"))
    latest = existing[-1]
    number = max(900, int(latest[:4]) + 1)
    (copy / "content" / "migrations" / f"{number:04d}_{name}.py").write_text(textwrap.dedent(f"""\
        from django.db import migrations, models


        class Migration(migrations.Migration):
            {extra}
            dependencies = [("content", "{latest}")]
            operations = [{operations}]
        """))
    return copy


class Traffic:
    """Uncached article reads against the running release, counted by outcome."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.count = 0

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                self.count += 1
                slug = f"story-{self.count % ARTICLES + 1}"
                try:
                    status = client.get(f"/articles/{slug}/").status_code
                except httpx.HTTPError as error:
                    self.failed.append(type(error).__name__)
                    continue
                if status == 200:
                    self.ok += 1
                else:
                    self.failed.append(str(status))

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def wait_for(self, requests: int, ceiling: float = 120) -> None:
        """Until ``requests`` more requests were made (generous ceiling for a busy machine)."""
        target = self.count + requests
        deadline = time.monotonic() + ceiling
        while self.count < target and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.count >= target, f"only {self.count} of {target} requests in {ceiling}s"

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def _migrate(release: Path, env: dict[str, str],
             services: DataServices) -> subprocess.CompletedProcess[str]:
    """``entrypoint.sh migrate`` of ``release``, as the migrate Job runs it (migrations role)."""
    return subprocess.run([str(release / "entrypoint.sh"), "migrate"],
                          env=admin_env(env, services), capture_output=True, text=True,
                          timeout=300, check=False)


def _columns(services: DataServices) -> set[str]:
    out = services.psql("primary", "SELECT column_name FROM information_schema.columns "
                                   "WHERE table_name = 'content_article'")
    return {line.strip() for line in out.splitlines() if line.strip()}


def test_expand_then_contract_under_the_running_release(own_services, own_env, tmp_path):
    web = start_web(own_env, free_port())
    try:
        expand = _release_with(tmp_path, "expand",
                               '\n'.join(['migrations.AddField("article", "subtitle",',
                                          '                  models.TextField(null=True))']))
        with Traffic(web.url) as traffic:
            traffic.wait_for(50)
            applied = _migrate(expand, own_env, own_services)
            assert applied.returncode == 0, applied.stderr
            traffic.wait_for(200)
        assert "subtitle" in _columns(own_services)
        assert traffic.failed == [], traffic.failed[:10]
        print(f"\nexpand under load: {traffic.ok} requests served, 0 failed")

        # The counter-example: contracting before the running release stopped reading the
        # column breaks it at once. The lint refuses this migration without contract_step.
        contract = _release_with(tmp_path, "contract", 'migrations.RemoveField("article", '
                                 '"body")', extra="contract_step = True", base=expand)
        with Traffic(web.url) as traffic:
            traffic.wait_for(20)
            applied = _migrate(contract, own_env, own_services)
            assert applied.returncode == 0, applied.stderr
            traffic.wait_for(100)
        assert "body" not in _columns(own_services)
        assert traffic.failed, "dropping a column the running release reads must break it"
        print(f"contract too early: {len(traffic.failed)} of {traffic.count} requests failed")
    finally:
        stop_web(web)


def test_migrate_retries_when_a_lock_is_not_granted_in_time(own_services, own_env, tmp_path):
    import psycopg

    release = _release_with(tmp_path, "retry", 'migrations.AddField("article", "teaser", '
                            'models.TextField(null=True))')
    # As the migrations role, direct to the primary so a session option can shorten the role's
    # lock_timeout (10 s, set by the bootstrap) for the test; PgBouncer would refuse it.
    env = {**own_env, "DATABASE_URL": own_services.direct_migrate_url,
           "PGOPTIONS": "-c lock_timeout=200ms"}
    holder = psycopg.connect(own_services.direct_primary_url, autocommit=False)
    try:
        holder.execute("SELECT count(*) FROM content_article")  # holds ACCESS SHARE
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "migrate_with_retry", "--backoff", "0.3",
             "--attempts", "20"],
            cwd=release, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        assert proc.stderr is not None
        first = ""
        deadline = time.monotonic() + 120
        while "lock not granted in time (attempt 1" not in first:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, f"migrate ended: {first}"
            first += line
            assert time.monotonic() < deadline, first
        holder.rollback()  # the long transaction ends; the next attempt gets the lock
        rest = proc.communicate(timeout=120)[1]
        assert proc.returncode == 0, first + rest
    finally:
        holder.close()
    assert "teaser" in _columns(own_services)


def test_a_lock_timeout_is_not_mistaken_for_success_or_retried_forever(own_services, own_env,
                                                                       tmp_path):
    import psycopg

    release = _release_with(tmp_path, "stuck", 'migrations.AddField("article", "stuck", '
                            'models.TextField(null=True))')
    env = {**own_env, "DATABASE_URL": own_services.direct_migrate_url,
           "PGOPTIONS": "-c lock_timeout=100ms"}
    with psycopg.connect(own_services.direct_primary_url, autocommit=False) as holder:
        holder.execute("SELECT count(*) FROM content_article")
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate_with_retry", "--backoff", "0.05",
             "--attempts", "3"],
            cwd=release, env=env, capture_output=True, text=True, timeout=120, check=False)
        holder.rollback()
    assert done.returncode != 0
    assert "a lock was not granted in time on 3 attempts" in done.stderr
    assert "Traceback" not in done.stderr
    assert "stuck" not in _columns(own_services)


def test_a_concurrent_index_left_invalid_by_a_failed_build_is_rebuilt(own_services, own_env,
                                                                      tmp_path):
    # A failed concurrent build leaves an INVALID index of that name behind (here: a unique
    # build over duplicate titles fails); Django's plain AddIndexConcurrently would then stop.
    with pytest.raises(DataServiceError, match="could not create unique index"):
        own_services.psql("primary", "CREATE UNIQUE INDEX CONCURRENTLY article_title_idx "
                                     "ON content_article ((left(title, 5)))")
    valid = "SELECT indisvalid FROM pg_index WHERE indexrelid = 'article_title_idx'::regclass"
    assert own_services.psql("primary", valid) == "f"
    release = _release_with(tmp_path, "index", textwrap.dedent("""\
        AddIndexConcurrentlySafely(
                "article", models.Index(fields=["title"], name="article_title_idx"))"""),
                            extra="atomic = False")
    migration = next((release / "content" / "migrations").glob("09*_index.py"))
    migration.write_text("from core.migration_ops import AddIndexConcurrentlySafely\n"
                         + migration.read_text())
    applied = _migrate(release, own_env, own_services)
    assert applied.returncode == 0, applied.stderr
    assert own_services.psql("primary", valid) == "t"
