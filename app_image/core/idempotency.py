"""Idempotency keys for POST APIs (the `Idempotency-Key` header), recorded in Postgres.

The record of a key is a row in `IdempotencyRecord`, unique per (principal, endpoint, key) and
inserted in the same transaction as the request's effect:

- first request: the row is inserted, the view runs, its response is stored in the row, and
  everything commits together (or nothing does: a failed request leaves the key free);
- a retry (same principal, endpoint, key and body): the stored response, `Idempotent-Replayed`;
- the same key with another body: 422, as long as the row lives (the cache plays no part);
- another principal with the same key: its own row, independent;
- a concurrent duplicate: a Redis lock in front answers it 409 at once; if Redis is down or
  the lock expired, it waits on the row's unique index and then gets the stored response (or a
  409 after IDEMPOTENCY_WAIT_MS). Redis is never the record.

Rows older than IDEMPOTENCY_RETENTION are deleted by a beat task (`idempotency_records_purge`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from core.caching import REDIS_ERRORS, cache_available, cache_mark_down
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
ERROR_KEY_REQUIRED = f"{HEADER} header required (1-{MAX_KEY_LENGTH} printable ASCII characters)"
ERROR_IN_PROGRESS = "a request with this Idempotency-Key is in progress; retry shortly"
ERROR_KEY_REUSED = "this Idempotency-Key was already used with a different request body"
log = structlog.get_logger(__name__)

Handler = Callable[..., Response]


def _error(message: str, status: int, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Response({"error": message}, status=status, headers=headers)


def _fingerprint(request: Request) -> str:
    """SHA-256 of method, path and body bytes: what must match for a retry to be a retry."""
    digest = hashlib.sha256()
    for part in (request.method or "", request.path, request.body):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()


def _lock(lock_key: str) -> bool | None:
    """Take the fast Redis lock: True taken, False held by a duplicate, None Redis can't say."""
    if not cache_available():
        return None
    try:
        claimed = cache.add(lock_key, 1, settings.IDEMPOTENCY_LOCK_SECONDS)
    except REDIS_ERRORS as exc:
        cache_mark_down(exc)
        return None
    return None if claimed is None else bool(claimed)


def _unlock(lock_key: str) -> None:
    try:
        cache.delete(lock_key)
    except REDIS_ERRORS as exc:
        cache_mark_down(exc)  # the lock's TTL frees it; the row stays the record


def _replay(record: IdempotencyRecord) -> Response:
    return Response(record.response_body, status=record.response_status,
                    headers={REPLAYED_HEADER: "true"})


def idempotent(*, scope: str) -> Callable[[Handler], Handler]:
    """Decorate an authenticated APIView method so each principal's key runs it at most once."""

    def decorator(handler: Handler) -> Handler:
        @wraps(handler)
        def wrapped(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER, "").strip()
            if not _valid_key(key):
                return _error(ERROR_KEY_REQUIRED, 400)
            principal = f"user:{request.user.pk}"
            lock_key = "idem-lock:" + hashlib.sha256(
                f"{principal}\0{scope}\0{key}".encode()).hexdigest()
            if _lock(lock_key) is False:
                return _error(ERROR_IN_PROGRESS, 409, retry_after=1)
            try:
                return _run_once(handler, view, request, args, kwargs, principal=principal,
                                 scope=scope, key=key)
            finally:
                _unlock(lock_key)

        return wrapped

    return decorator


def _run_once(handler: Handler, view: Any, request: Request, args: tuple[Any, ...],
              kwargs: dict[str, Any], *, principal: str, scope: str, key: str) -> Response:
    fingerprint = _fingerprint(request)
    with transaction.atomic():
        with connection.cursor() as cursor:  # bounds the wait behind a concurrent duplicate
            cursor.execute(f"SET LOCAL lock_timeout = {int(settings.IDEMPOTENCY_WAIT_MS)}")
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    principal=principal, endpoint=scope, key=key, fingerprint=fingerprint)
        except IntegrityError:  # the key has a committed record
            existing = IdempotencyRecord.objects.get(principal=principal, endpoint=scope,
                                                     key=key)
            if existing.fingerprint != fingerprint:
                return _error(ERROR_KEY_REUSED, 422)
            return _replay(existing)
        except OperationalError:  # lock_timeout: the duplicate is still running
            return _error(ERROR_IN_PROGRESS, 409, retry_after=1)
        response = handler(view, request, *args, **kwargs)
        if not 200 <= response.status_code < 300:
            # Nothing happened (validation, conflict, failure): keep the key free to retry.
            transaction.set_rollback(True)
            return response
        record.response_status = response.status_code
        record.response_body = response.data
        record.save(update_fields=["response_status", "response_body"])
        return response


def idempotency_records_purge(*, older_than: timedelta | None = None,
                              now: datetime | None = None) -> int:
    """Delete records past the retention (the beat task); return how many went."""
    cutoff = (now or timezone.now()) - (older_than or settings.IDEMPOTENCY_RETENTION)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    log.info("idempotency_records_purged", deleted=deleted)
    return deleted
