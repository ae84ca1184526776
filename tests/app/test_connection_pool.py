"""The served app reuses its connections to PgBouncer (psycopg pool) instead of opening one,
with its SCRAM exchange, per request; and gives them back, so the pool never runs dry.

Sockets are attributed to the uvicorn processes through /proc (their file descriptors'
inodes against /proc/net/tcp), so the test process's own connections never count.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from local.dataservices import DataServices
from tests.app.conftest import APP_DIR, Principals, WebServer

pytestmark = pytest.mark.services
SEQUENTIAL = 30
CONCURRENT = 40
BURSTS = 5


def _process_tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            children = (task / "children").read_text().split()
            queue += [int(c) for c in children]
    return pids


def _socket_inodes(pids: list[int]) -> set[str]:
    inodes: set[str] = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed while we looked
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def server_connections_to(server: WebServer, port: int) -> set[str]:
    """Local ends ('ip:port', hex) of the server's established TCP connections to `port`."""
    inodes = _socket_inodes(_process_tree(server.process.pid))
    ends: set[str] = set()
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if state == "01" and remote.endswith(f":{port:04X}") and inode in inodes:
            ends.add(local)
    return ends


def _publish(web: WebServer, principals: Principals, dataservices: DataServices) -> str:
    editor = Principals.headers(principals.editor)  # publishing needs an editor
    response = httpx.post(f"{web.url}/api/articles/", timeout=10, headers=editor, json={
        "section": "pool", "title": f"Pool {uuid.uuid4().hex[:6]}", "body": "text"})
    assert response.status_code == 201, response.text
    # The article page reads the replica, and these clients carry no read-your-writes pin:
    # until the replica replays the insert it is (rightly) a 404 to them.
    dataservices.wait_replica_caught_up()
    return str(response.json()["slug"])


def test_requests_reuse_pooled_connections_to_pgbouncer(
    web: WebServer, dataservices: DataServices, principals: Principals
) -> None:
    url = f"{web.url}/articles/{_publish(web, principals, dataservices)}/"
    with httpx.Client(timeout=10) as client:
        for _ in range(SEQUENTIAL):
            assert client.get(url).status_code == 200
        held = server_connections_to(web, dataservices.ports.pgbouncer)
        for _ in range(SEQUENTIAL):
            assert client.get(url).status_code == 200
        after = server_connections_to(web, dataservices.ports.pgbouncer)
    print(f"connections held to PgBouncer: {len(held)} before, {len(after)} after "
          f"{SEQUENTIAL} more requests")
    # Without a pool (CONN_MAX_AGE=0 alone) each request closes its connection: none is held.
    assert held, "the server holds no connection to PgBouncer between requests"
    assert after <= held, f"new connections were opened: {sorted(after - held)}"


async def _bursts(url: str) -> list[int]:
    limits = httpx.Limits(max_connections=CONCURRENT)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        statuses: list[int] = []
        for _ in range(BURSTS):
            responses = await asyncio.gather(*(client.get(url) for _ in range(CONCURRENT)))
            statuses += [r.status_code for r in responses]
    return statuses


def test_concurrent_requests_give_their_connections_back(
    web: WebServer, dataservices: DataServices, django_app: None, principals: Principals
) -> None:
    from config.settings.base import DATABASE_POOL

    url = f"{web.url}/articles/{_publish(web, principals, dataservices)}/"
    # More requests than a process's pool holds: a connection not given back at the end of a
    # request would leave later ones waiting for the pool's timeout, then failing.
    statuses = asyncio.run(_bursts(url))
    assert statuses == [200] * (CONCURRENT * BURSTS)
    held = server_connections_to(web, dataservices.ports.pgbouncer)
    processes = int(os.environ.get("WEB_CONCURRENCY", "2"))
    aliases = 2  # the primary and one replica
    assert len(held) <= processes * aliases * DATABASE_POOL["max_size"]


def test_celery_processes_use_plain_connections(app_env: dict[str, str]) -> None:
    # Celery closes pools after every task in prefork children: workers must not build one.
    probe = ("import config.celery_app\n"
             "from django.db import connections\n"
             "print(sorted(a for a in connections if connections[a].pool is not None))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=APP_DIR, env=app_env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
