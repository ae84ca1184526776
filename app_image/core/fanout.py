"""Call several HTTP upstreams: concurrently (async) or one after another (sync, for comparison).

Each async call has a deadline (`asyncio.timeout`) and so has the whole fan-out: httpx's own
timeout is per phase and per read, so an upstream that drips a byte at a time never trips it.
A failed or late call becomes a failed `UpstreamResult`, so the caller can give a partial answer
instead of failing the whole request.

One `httpx.AsyncClient` per upstream and process (per event loop) is shared by every request: a
client per request builds an SSL context on the event loop each time. One per upstream, not one
for all: each third party gets its own connection limits (a slow one cannot take the others'
connections), and httpcore scans every pooled connection of its client each time it hands one
out, so one shared pool cost the fan-out about a third of its CPU at 20 concurrent users here
(`make bench`, issue 16). One SSL context, built at import, serves every client: building one
costs about 20 ms of CPU, which a client made on the event loop would stall it for.
`upstream_clients_close` closes the clients at lifespan shutdown, where the server runs the
lifespan protocol (config/asgi.py).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import certifi
import httpx

FANOUT_MARGIN_SECONDS = 0.25
"""The whole fan-out may take this much longer than one call's deadline (scheduling slack)."""
DEADLINE_EXCEEDED = "deadline exceeded"
# Keep-alive as wide as the pool: httpcore compares its keep-alive cap with every connection,
# idle or not, so a lower cap closes connections under load and opens new ones (TLS handshakes
# against a real third party) on the next burst.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
"""Per upstream and process."""
SSL_CONTEXT = ssl.create_default_context(cafile=certifi.where())
"""What httpx builds by default (certifi's CA bundle), once for every client of the process."""

_clients: dict[tuple[asyncio.AbstractEventLoop, str], httpx.AsyncClient] = {}


@dataclass(frozen=True)
class UpstreamResult:
    """The outcome of one upstream call."""

    name: str
    ok: bool
    status: int | None
    data: dict[str, Any] | None
    error: str | None
    elapsed_ms: int

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON responses."""
        return asdict(self)


def _result(name: str, started: float, outcome: httpx.Response | BaseException) -> UpstreamResult:
    elapsed = int((time.perf_counter() - started) * 1000)
    if isinstance(outcome, TimeoutError):
        return UpstreamResult(name, False, None, None, f"Timeout: {DEADLINE_EXCEEDED}", elapsed)
    if isinstance(outcome, BaseException):
        # The class only: an exception's text can carry the upstream's address.
        return UpstreamResult(name, False, None, None, type(outcome).__name__, elapsed)
    if outcome.status_code >= 400:
        return UpstreamResult(name, False, outcome.status_code, None,
                              f"HTTP {outcome.status_code}", elapsed)
    try:
        data = outcome.json()
    except ValueError:
        return UpstreamResult(name, False, outcome.status_code, None, "bad JSON", elapsed)
    return UpstreamResult(name, True, outcome.status_code, data, None, elapsed)


def upstream_client(name: str) -> httpx.AsyncClient:
    """The process's shared client of upstream `name` for the running loop (made on first use)."""
    loop = asyncio.get_running_loop()
    client = _clients.get((loop, name))
    if client is None or client.is_closed:
        for stale in [key for key in _clients if key[0].is_closed()]:
            del _clients[stale]  # a finished loop (tests run several): its client is unusable
        client = _clients[(loop, name)] = httpx.AsyncClient(limits=POOL_LIMITS,
                                                            verify=SSL_CONTEXT)
    return client


async def upstream_clients_close() -> None:
    """Close the running loop's shared clients (at shutdown)."""
    loop = asyncio.get_running_loop()
    for key in [key for key in _clients if key[0] is loop]:
        await _clients.pop(key).aclose()


async def upstreams_call_async(
    *, urls: Mapping[str, str], payload: dict[str, Any], timeout: float,
    deadline: float | None = None,
) -> dict[str, UpstreamResult]:
    """POST `payload` to every URL at once; each call ends within `timeout` seconds and the
    whole fan-out within `deadline` (default: `timeout` plus a small margin)."""
    started = time.perf_counter()
    results: dict[str, UpstreamResult] = {}

    async def one(name: str, url: str) -> None:
        call_started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                response = await upstream_client(name).post(url, json=payload, timeout=timeout)
        except (TimeoutError, httpx.HTTPError, OSError) as exc:
            results[name] = _result(name, call_started, exc)
            return
        results[name] = _result(name, call_started, response)

    try:
        async with asyncio.timeout(deadline or timeout + FANOUT_MARGIN_SECONDS):
            await asyncio.gather(*(one(name, url) for name, url in urls.items()))
    except TimeoutError:
        pass  # the calls still running were cancelled; they become failed results below
    return {name: results.get(name) or _result(name, started, TimeoutError())
            for name in urls}


def upstreams_call_sync(
    *, urls: Mapping[str, str], payload: dict[str, Any], timeout: float
) -> dict[str, UpstreamResult]:
    """POST `payload` to each URL in turn; the whole call lasts about the sum of them."""
    results: dict[str, UpstreamResult] = {}
    with httpx.Client(verify=SSL_CONTEXT) as client:
        for name, url in urls.items():
            call_started = time.perf_counter()
            try:
                outcome: httpx.Response | BaseException = client.post(url, json=payload,
                                                                      timeout=timeout)
            except (httpx.HTTPError, OSError) as exc:
                outcome = exc
            results[name] = _result(name, call_started, outcome)
    return results
