"""Readiness (/readyz): can this pod serve? Its own PgBouncer sidecar answers and it is warmed.

Deliberately nothing shared: the cache, the broker and the replicas are degraded around (the
app serves pages without them), and the primary is left out too (docs/app.md, "Probes"): if a
shared dependency failed every pod's readiness, the whole fleet would leave the load balancer at
once for something no single pod can fix.

The sidecar check is a PostgreSQL SSLRequest: PgBouncer answers one byte itself, without a
server connection, so it proves the process is alive and responsive (a frozen process still
accepts TCP connections through the kernel's backlog, but never answers).
"""

from __future__ import annotations

import asyncio
import socket
import struct

from django.conf import settings

SIDECAR_TIMEOUT_SECONDS = 0.5
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
SSL_ANSWERS = (b"S", b"N")
_warmed = False


def app_mark_warmed() -> None:
    """Record that the process finished warming up (health.warmup)."""
    global _warmed
    _warmed = True


def app_warmed() -> bool:
    """True once warm-up ran in this process."""
    return _warmed


def _sidecar_address() -> tuple[str, int]:
    database = settings.DATABASES["default"]
    return str(database["HOST"]), int(database["PORT"])


def sidecar_answers() -> bool:
    """True when the pod's PgBouncer answers an SSLRequest within the timeout."""
    try:
        with socket.create_connection(_sidecar_address(), SIDECAR_TIMEOUT_SECONDS) as sock:
            sock.settimeout(SIDECAR_TIMEOUT_SECONDS)
            sock.sendall(SSL_REQUEST)
            return sock.recv(1) in SSL_ANSWERS
    except OSError:
        return False


async def sidecar_answers_async() -> bool:
    """`sidecar_answers` on the event loop."""
    writer = None
    try:
        async with asyncio.timeout(SIDECAR_TIMEOUT_SECONDS):
            reader, writer = await asyncio.open_connection(*_sidecar_address())
            writer.write(SSL_REQUEST)
            await writer.drain()
            return await reader.read(1) in SSL_ANSWERS
    except (OSError, TimeoutError):
        return False
    finally:
        if writer is not None:
            writer.close()


def readiness(*, sidecar_ok: bool) -> dict[str, object]:
    """The /readyz body: ready only when warmed and the sidecar answers."""
    checks = {"warmed": app_warmed(), "pgbouncer": sidecar_ok}
    return {"status": "ok" if all(checks.values()) else "fail",
            "checks": {name: "ok" if ok else "fail" for name, ok in checks.items()}}
