"""Upload writes: issue a presigned POST, confirm what arrived, clean up what never did.

S3 enforces the POST policy (size range, content type, key); an emulator may not, so the
confirmation checks size and type itself and refuses what breaks them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.routing import pin_to_primary
from uploads.models import Upload
from uploads.storage import bucket_name, s3_client

log = structlog.get_logger(__name__)
KEY_PREFIX = "uploads"


class UploadError(Exception):
    """A request the uploads context refuses; the message is safe to show the client.

    ``field`` names the input (or the object's property) that is wrong.
    """

    status = 400

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class UploadInvalid(UploadError):
    """The request names a value outside what is allowed (type, size, key)."""


class UploadNotArrived(UploadError):
    """The object is not in the bucket (yet): the client has not uploaded it."""

    status = 409


class UploadRefused(UploadError):
    """The object arrived but breaks the limits; it is marked rejected and will be removed."""

    status = 422


ERROR_FOREIGN_KEY = "no upload with this key was issued to you"
"""One message for unknown and foreign keys: the answer never says whether a key exists."""


@dataclass(frozen=True)
class PresignedUpload:
    """What the client needs to POST the file straight to S3."""

    upload: Upload
    url: str
    fields: dict[str, str]


def upload_key(*, owner_id: int, upload_id: uuid.UUID) -> str:
    """The only key a principal's upload may have: ``uploads/<principal>/<uuid>``."""
    return f"{KEY_PREFIX}/{owner_id}/{upload_id}"


def _allowed_types() -> tuple[str, ...]:
    return tuple(settings.UPLOADS_CONTENT_TYPES)


def _size_range() -> str:
    return f"1 to {settings.UPLOADS_MAX_BYTES} bytes"


def upload_request(*, owner_id: int, content_type: str, size: int) -> PresignedUpload:
    """Record a pending upload and presign a POST limited to its key, type and exact size."""
    if content_type not in _allowed_types():
        raise UploadInvalid(
            f"content_type {content_type!r} is not allowed; allowed: {', '.join(_allowed_types())}",
            field="content_type",
        )
    if not 1 <= size <= settings.UPLOADS_MAX_BYTES:
        raise UploadInvalid(f"size {size} is out of range; allowed: {_size_range()}",
                            field="size")
    upload_id = uuid.uuid4()
    key = upload_key(owner_id=owner_id, upload_id=upload_id)
    upload = Upload.objects.create(id=upload_id, owner_id=owner_id, key=key,
                                   content_type=content_type, declared_size=size)
    post = s3_client().generate_presigned_post(
        Bucket=bucket_name(),
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[
            {"Content-Type": content_type},
            # S3 refuses any other size; the confirmation checks it again (emulators do not).
            ["content-length-range", size, size],
        ],
        ExpiresIn=settings.UPLOADS_PRESIGN_SECONDS,
    )
    return PresignedUpload(upload=upload, url=post["url"], fields=dict(post["fields"]))


def _head(key: str) -> dict[str, Any] | None:
    try:
        return s3_client().head_object(Bucket=bucket_name(), Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _refusal(head: dict[str, Any], upload: Upload) -> UploadRefused | None:
    size = int(head.get("ContentLength", 0))
    if size != upload.declared_size or not 1 <= size <= settings.UPLOADS_MAX_BYTES:
        return UploadRefused(
            f"the object is {size} bytes; it was declared as {upload.declared_size} bytes "
            f"(allowed: {_size_range()})", field="size")
    arrived_type = str(head.get("ContentType", ""))
    if arrived_type != upload.content_type:
        return UploadRefused(
            f"the object's content type is {arrived_type!r}; the upload was issued for "
            f"{upload.content_type!r}", field="content_type")
    return None


def _not_pending(upload: Upload) -> UploadInvalid:
    return UploadInvalid(f"this upload is {upload.status}; request a new one", field="key")


def upload_confirm(*, owner_id: int, key: str) -> Upload:
    """HEAD the object issued to this principal under ``key``; record it, or refuse it naming
    the limit it breaks."""
    # A write path: a replica may not have the row issued a moment ago.
    with pin_to_primary():
        upload = Upload.objects.filter(key=key, owner_id=owner_id).first()
    # The principal check: only a key issued to this principal is ever HEADed; another's is
    # as unknown as a made-up one.
    if upload is None:
        raise UploadInvalid(ERROR_FOREIGN_KEY, field="key")
    if upload.status == Upload.Status.CONFIRMED:
        return upload
    if upload.status != Upload.Status.PENDING:
        raise _not_pending(upload)
    if upload.created_at < _pending_cutoff():
        # Past its window the sweep may be deleting the object right now: never confirm it.
        raise UploadInvalid("this upload was not confirmed in time; request a new one",
                            field="key")
    head = _head(upload.key)
    if head is None:
        raise UploadNotArrived("the file has not arrived in the bucket; POST it first",
                               field="key")
    refusal = _refusal(head, upload)
    with transaction.atomic():
        locked = Upload.objects.select_for_update().get(pk=upload.pk)
        if locked.status == Upload.Status.CONFIRMED:  # a concurrent confirmation won
            return locked
        if locked.status != Upload.Status.PENDING:
            raise _not_pending(locked)
        locked.size = int(head.get("ContentLength", 0))
        if refusal is not None:
            locked.status = Upload.Status.REJECTED
            locked.save(update_fields=["status", "size"])
        else:
            locked.status = Upload.Status.CONFIRMED
            locked.confirmed_at = timezone.now()
            locked.save(update_fields=["status", "size", "confirmed_at"])
    if refusal is not None:
        log.info("upload_refused", upload_id=str(upload.id), reason=str(refusal))
        raise refusal
    return locked


def _pending_cutoff(older_than: timedelta | None = None) -> datetime:
    return timezone.now() - (older_than or timedelta(seconds=settings.UPLOADS_PENDING_SECONDS))


def upload_cleanup(*, older_than: timedelta | None = None) -> int:
    """Delete the objects of uploads never confirmed in time, and of refused ones; mark them
    expired. Returns how many were cleaned up."""
    cutoff = _pending_cutoff(older_than)
    stale = Upload.objects.filter(status=Upload.Status.PENDING, created_at__lt=cutoff)
    refused = Upload.objects.filter(status=Upload.Status.REJECTED)
    with pin_to_primary():
        doomed = list((stale | refused).values_list("pk", "key")[:1000])
    client = s3_client()
    cleaned = 0
    for pk, key in doomed:
        # Claim the row first, guarded by its status: a confirmation that committed since the
        # list was read keeps its object (the update matches nothing, nothing is deleted).
        claimed = Upload.objects.filter(
            pk=pk, status__in=[Upload.Status.PENDING, Upload.Status.REJECTED],
        ).update(status=Upload.Status.EXPIRED)
        if claimed:
            # Deleting a key that was never uploaded is a no-op for S3.
            client.delete_object(Bucket=bucket_name(), Key=key)
            cleaned += 1
    return cleaned
