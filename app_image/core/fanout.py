"""Call several HTTP upstreams: concurrently (async) or one after another (sync, for comparison).

Each call has its own timeout; a failed or slow call becomes a failed `UpstreamResult`, so the
caller can give a partial answer instead of failing the whole request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx


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
    if isinstance(outcome, BaseException):
        return UpstreamResult(name, False, None, None, f"{type(outcome).__name__}: {outcome}",
                              elapsed)
    if outcome.status_code >= 400:
        return UpstreamResult(name, False, outcome.status_code, None,
                              f"HTTP {outcome.status_code}", elapsed)
    try:
        data = outcome.json()
    except ValueError as exc:
        return UpstreamResult(name, False, outcome.status_code, None, f"bad JSON: {exc}", elapsed)
    return UpstreamResult(name, True, outcome.status_code, data, None, elapsed)


async def upstreams_call_async(
    *, urls: Mapping[str, str], payload: dict[str, Any], timeout: float
) -> dict[str, UpstreamResult]:
    """POST `payload` to every URL at once; the whole call lasts about the slowest one."""
    started = time.perf_counter()

    async def one(client: httpx.AsyncClient, name: str, url: str) -> UpstreamResult:
        call_started = time.perf_counter()
        try:
            response = await client.post(url, json=payload, timeout=timeout)
        except (httpx.HTTPError, OSError) as exc:
            return _result(name, call_started, exc)
        return _result(name, call_started, response)

    async with httpx.AsyncClient() as client:
        outcomes = await asyncio.gather(
            *(one(client, name, url) for name, url in urls.items()), return_exceptions=True
        )
    results: dict[str, UpstreamResult] = {}
    for name, outcome in zip(urls, outcomes, strict=True):
        results[name] = (outcome if isinstance(outcome, UpstreamResult)
                         else _result(name, started, outcome))
    return results


def upstreams_call_sync(
    *, urls: Mapping[str, str], payload: dict[str, Any], timeout: float
) -> dict[str, UpstreamResult]:
    """POST `payload` to each URL in turn; the whole call lasts about the sum of them."""
    results: dict[str, UpstreamResult] = {}
    with httpx.Client() as client:
        for name, url in urls.items():
            call_started = time.perf_counter()
            try:
                outcome: httpx.Response | BaseException = client.post(url, json=payload,
                                                                      timeout=timeout)
            except (httpx.HTTPError, OSError) as exc:
                outcome = exc
            results[name] = _result(name, call_started, outcome)
    return results
