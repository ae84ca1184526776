"""Idempotency keys for POST endpoints (the `Idempotency-Key` header).

The first request with a key claims it atomically (`cache.add`) and runs; a concurrent duplicate
gets 409 with Retry-After; a later repeat gets the stored response replayed. The same key with
a different body is refused (422). If the store cannot answer (Redis down, or `add()` returning
None as django-redis does with IGNORE_EXCEPTIONS) the endpoint fails closed with 503: running
without the check could charge twice. The order table's unique key is the last line of defence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

import structlog
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from core.caching import REDIS_ERRORS, cache_available, cache_mark_down

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
ERROR_KEY_REQUIRED = f"{HEADER} header required (1-{MAX_KEY_LENGTH} characters)"
ERROR_IN_PROGRESS = "a request with this Idempotency-Key is in progress; retry shortly"
ERROR_KEY_REUSED = "this Idempotency-Key was used with a different request body"
ERROR_STORE_DOWN = "idempotency store unavailable; the request was not run, retry later"
log = structlog.get_logger(__name__)

View = Callable[..., HttpResponseBase]


def _error(message: str, status: int, retry_after: int | None = None) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.path, request.body):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _replay(record: dict[str, Any]) -> HttpResponse:
    response = HttpResponse(record["body"], status=record["status"],
                            content_type=record["content_type"])
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(
    *, scope: str, ttl: int = 24 * 3600, running_ttl: int = 60
) -> Callable[[View], View]:
    """Decorate a sync POST view so that each Idempotency-Key runs it at most once."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            key = request.headers.get(HEADER, "").strip()
            if not key or len(key) > MAX_KEY_LENGTH:
                return _error(ERROR_KEY_REQUIRED, 400)
            if not cache_available():
                return _error(ERROR_STORE_DOWN, 503, retry_after=5)
            store_key = f"idem:{scope}:{key}"
            fingerprint = _fingerprint(request)
            try:
                claimed = cache.add(store_key, {"state": "running", "fingerprint": fingerprint},
                                    running_ttl)
                record = None if claimed else cache.get(store_key)
            except REDIS_ERRORS as exc:
                cache_mark_down(exc)
                claimed = None
            if claimed is None:  # the store could not say: fail closed
                return _error(ERROR_STORE_DOWN, 503, retry_after=5)
            if not claimed:
                if record is None:  # expired between add and get: treat as in progress
                    return _error(ERROR_IN_PROGRESS, 409, retry_after=1)
                if record["fingerprint"] != fingerprint:
                    return _error(ERROR_KEY_REUSED, 422)
                if record["state"] == "running":
                    return _error(ERROR_IN_PROGRESS, 409, retry_after=1)
                return _replay(record)
            try:
                response = view(request, *args, **kwargs)
            except BaseException:
                _forget(store_key)
                raise
            if response.status_code >= 500 or not isinstance(response, HttpResponse):
                _forget(store_key)  # transient failure: let the client retry with the same key
                return response
            done = {"state": "done", "fingerprint": fingerprint, "status": response.status_code,
                    "body": response.content, "content_type": response["Content-Type"]}
            try:
                cache.set(store_key, done, ttl)
            except REDIS_ERRORS as exc:
                cache_mark_down(exc)  # the database's unique key still refuses a second run
            return response

        return wrapped

    return decorator


def _forget(store_key: str) -> None:
    try:
        cache.delete(store_key)
    except REDIS_ERRORS as exc:
        cache_mark_down(exc)
