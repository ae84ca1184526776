"""Fixtures of the app tests: real data services, the migrated app, and a real uvicorn server.

Everything here is session-scoped and stopped by pid at the end, even when a test fails.
Django is set up lazily (the `django_app` fixture), after the services exist, so that the
infra tests in the same run never need Django.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from local.dataservices import DataServices, free_port
from local.s3server import ThreadedS3, s3_env
from local.stub_upstream import StubUpstream

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "app_image"
ENTRYPOINT = APP_DIR / "entrypoint.sh"
VENV_BIN = Path(sys.executable).parent
UPSTREAM_DELAY_MS = 300
READ_YOUR_WRITES_SECONDS = 2
SECRET_KEY = "test-only-" + "k3y" * 20
UPLOADS_MAX_BYTES = 4096
"""Small, so a test can upload past the limit quickly."""


def pytest_configure(config: pytest.Config) -> None:
    """Make the app's packages importable for in-process tests."""
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))


@dataclass
class WebServer:
    """A running `entrypoint.sh web` process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    metrics_url: str = ""
    """Its Prometheus endpoint (METRICS_PORT, one per server)."""
    tmp_dir: Path | None = None
    """Its private TMPDIR (the multiprocess metrics files live under it)."""

    def log_text(self) -> str:
        """What the server printed so far."""
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def dataservices() -> Iterator[DataServices]:
    """Postgres primary + replica, PgBouncer, cache and broker Redis under a temp dir."""
    state = Path(tempfile.mkdtemp(prefix="quintet-app-tests-"))
    services = DataServices(state)
    try:
        started = time.monotonic()
        services.start()
        print(f"\ndata services up in {time.monotonic() - started:.2f}s")
        yield services
    finally:
        services.remove()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def stub_upstream() -> Iterator[StubUpstream]:
    """The three third-party checks, each answering after 300 ms."""
    stub = StubUpstream(delay_ms=UPSTREAM_DELAY_MS).start()
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[ThreadedS3]:
    """moto's S3 server on a free loopback port, with the uploads bucket created."""
    server = ThreadedS3(free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app_env(
    dataservices: DataServices, stub_upstream: StubUpstream, s3_server: ThreadedS3
) -> dict[str, str]:
    """A complete environment for the app's processes (the contract, filled for loopback)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(dataservices.urls())
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "UPSTREAM_SANCTIONS_URL": stub_upstream.url("sanctions"),
        "UPSTREAM_FRAUD_URL": stub_upstream.url("fraud"),
        "UPSTREAM_ADDRESS_URL": stub_upstream.url("address"),
        "READ_YOUR_WRITES_SECONDS": str(READ_YOUR_WRITES_SECONDS),
        "STATEMENT_TIMEOUT_MS": "1500",
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
        "METRICS_PORT": "0",  # start_web gives each server its own
        **s3_env(s3_server.url),
        "UPLOADS_MAX_BYTES": str(UPLOADS_MAX_BYTES),
    })
    return env


def run_entrypoint(
    args: list[str], env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run app_image/entrypoint.sh with `args` and return its outcome."""
    return subprocess.run([str(ENTRYPOINT), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def admin_env(app_env: dict[str, str], dataservices: DataServices) -> dict[str, str]:
    """The environment of `bootstrap` and `migrate`: the app's plus the master and migrations
    roles' URLs (which the app's own processes never get)."""
    return {**app_env, "DATABASE_MASTER_URL": dataservices.master_url,
            "DATABASE_MIGRATE_URL": dataservices.migrate_url}


@pytest.fixture(scope="session")
def migrated(app_env: dict[str, str],
             dataservices: DataServices) -> subprocess.CompletedProcess[str]:
    """Create the roles, apply migrations as the migrations role and collect static files
    (as the bootstrap Job, the migrate Job and the image do)."""
    # Ceilings, not waits: on two busy cores the whole migration history takes over a minute.
    bootstrap = run_entrypoint(["bootstrap"], admin_env(app_env, dataservices), timeout=300)
    assert bootstrap.returncode == 0, bootstrap.stderr
    result = run_entrypoint(["migrate"], admin_env(app_env, dataservices), timeout=300)
    assert result.returncode == 0, result.stderr
    static = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                            cwd=APP_DIR, env=app_env, capture_output=True, text=True, check=False)
    assert static.returncode == 0, static.stderr
    return result


@pytest.fixture(scope="session")
def django_app(app_env: dict[str, str], migrated: object) -> Iterator[None]:
    """Django configured in this process against the real services."""
    import django
    from django.test.utils import setup_test_environment, teardown_test_environment

    os.environ.update({k: v for k, v in app_env.items() if k != "PATH"})
    django.setup()
    setup_test_environment()
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        teardown_test_environment()


@pytest.fixture(autouse=True)
def zeal_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every in-process test that sets Django up runs under django-zeal: an N+1 raises.

    Served requests get the same from config.settings.test's middleware.
    """
    if "django_app" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("django_app")
    from zeal import zeal_context

    with zeal_context():
        yield


@pytest.fixture
def db_fresh(django_app: None) -> Iterator[None]:
    """Close in-process connections around a test (the services may have restarted)."""
    from django.db import connections

    connections.close_all()
    yield
    connections.close_all()


def start_web(env: dict[str, str], port: int) -> WebServer:
    """Start `entrypoint.sh web` on `port` and wait until /livez answers."""
    log = open(Path(tempfile.gettempdir()) / f"quintet-web-{port}.log", "wb")  # noqa: SIM115
    # Own TMPDIR and metrics port: servers of parallel runs never share metrics files or ports.
    tmp_dir = Path(tempfile.mkdtemp(prefix=f"quintet-web-{port}-"))
    metrics_port = free_port()
    process = subprocess.Popen(
        [str(ENTRYPOINT), "web"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**env, "PORT": str(port), "METRICS_PORT": str(metrics_port), "TMPDIR": str(tmp_dir)})
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"web exited with {process.returncode}; see {log.name}")
        try:
            if httpx.get(f"{url}/livez", timeout=1).status_code == 200:
                return WebServer(url, process, Path(log.name),
                                 f"http://127.0.0.1:{metrics_port}/metrics", tmp_dir)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_web(WebServer(url, process, Path(log.name)))
    raise RuntimeError(f"web did not answer /livez within 120s; see {log.name}")


def stop_web(server: WebServer, timeout: float = 30) -> int:
    """SIGTERM the server by pid and wait for it; return its exit code.

    uvicorn re-raises the signal after a graceful shutdown, so a clean stop is -15 (or 0).
    """
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
    if server.tmp_dir is not None:
        shutil.rmtree(server.tmp_dir, ignore_errors=True)
    return int(server.process.returncode)


@pytest.fixture(scope="session")
def web(app_env: dict[str, str], migrated: object) -> Iterator[WebServer]:
    """The app served by uvicorn through the entrypoint (2 workers), on a free loopback port."""
    server = start_web(app_env, free_port())
    try:
        yield server
    finally:
        stop_web(server)


@dataclass(frozen=True)
class Principals:
    """API tokens of an editor, two customers and an account with no role (made in-process)."""

    editor: str
    customer: str
    other_customer: str
    nobody: str

    @staticmethod
    def headers(token: str) -> dict[str, str]:
        """The Authorization header of a token."""
        return {"Authorization": f"Token {token}"}


@pytest.fixture(scope="session")
def principals(django_app: None) -> Principals:
    """One account per role, created through the app's own services (as an operator would)."""
    import uuid

    from accounts.services import principal_create, user_token_create
    from django.contrib.auth import get_user_model

    suffix = uuid.uuid4().hex[:8]
    tokens = {name: principal_create(username=f"{name}-{suffix}", role=role,
                                     password=f"pw-{uuid.uuid4()}")[1]
              for name, role in (("editor", "editor"), ("customer", "customer"),
                                 ("other", "customer"))}
    nobody = get_user_model().objects.create_user(username=f"nobody-{suffix}",
                                                  password=f"pw-{uuid.uuid4()}")
    return Principals(editor=tokens["editor"], customer=tokens["customer"],
                      other_customer=tokens["other"], nobody=user_token_create(user=nobody))


def csrf_headers(client: httpx.Client) -> dict[str, str]:
    """Fetch a CSRF token as a browser does (cookie + value) and return the header to send."""
    response = client.get("/api/accounts/csrf/")
    assert response.status_code == 200, response.text
    return {"X-CSRFToken": response.json()["csrf_token"]}
