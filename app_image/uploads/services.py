"""Upload writes: issue a presigned POST, confirm what arrived, clean up what never did.

S3 enforces the POST policy (size range, content type, key); an emulator may not, so the
confirmation checks size and type itself and refuses what breaks them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
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
    """A request the uploads context refuses; the message is safe to show the client."""

    status = 400


class UploadNotFound(UploadError):
    """No pending upload with this id belongs to this principal."""

    status = 404


class UploadNotArrived(UploadError):
    """The object is not in the bucket (yet): the client has not uploaded it."""

    status = 409


class UploadRefused(UploadError):
    """The object arrived but breaks the limits; it is marked rejected and will be removed."""

    status = 422


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


def upload_request(*, owner_id: int, content_type: str) -> PresignedUpload:
    """Record a pending upload and presign a POST limited to its key, type and size."""
    if content_type not in _allowed_types():
        raise UploadError(
            f"content_type {content_type!r} is not allowed; allowed: {', '.join(_allowed_types())}"
        )
    upload_id = uuid.uuid4()
    key = upload_key(owner_id=owner_id, upload_id=upload_id)
    upload = Upload.objects.create(id=upload_id, owner_id=owner_id, key=key,
                                   content_type=content_type)
    post = s3_client().generate_presigned_post(
        Bucket=bucket_name(),
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[
            {"Content-Type": content_type},
            ["content-length-range", 1, settings.UPLOADS_MAX_BYTES],
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


def _refusal(head: dict[str, Any], upload: Upload) -> str | None:
    size = int(head.get("ContentLength", 0))
    if not 1 <= size <= settings.UPLOADS_MAX_BYTES:
        return f"the object is {size} bytes; allowed: 1 to {settings.UPLOADS_MAX_BYTES} bytes"
    arrived_type = str(head.get("ContentType", ""))
    if arrived_type != upload.content_type:
        return (f"the object's content type is {arrived_type!r}; the upload was issued for "
                f"{upload.content_type!r}")
    return None


def upload_confirm(*, owner_id: int, upload_id: uuid.UUID) -> Upload:
    """HEAD the object issued to this principal; record it, or refuse it naming the limit."""
    # A write path: a replica may not have the row issued a moment ago.
    with pin_to_primary():
        upload = Upload.objects.filter(id=upload_id, owner_id=owner_id).first()
    # The key is derived, never taken from the client: a principal can only confirm its own.
    if upload is None or upload.key != upload_key(owner_id=owner_id, upload_id=upload.id):
        raise UploadNotFound("no upload with this id was issued to you")
    if upload.status == Upload.Status.CONFIRMED:
        return upload
    if upload.status != Upload.Status.PENDING:
        raise UploadNotFound(f"this upload is {upload.status}; request a new one")
    head = _head(upload.key)
    if head is None:
        raise UploadNotArrived("the file has not arrived in the bucket; POST it first")
    refusal = _refusal(head, upload)
    with transaction.atomic():
        locked = Upload.objects.select_for_update().get(pk=upload.pk)
        if locked.status == Upload.Status.CONFIRMED:  # a concurrent confirmation won
            return locked
        if locked.status != Upload.Status.PENDING:
            raise UploadNotFound(f"this upload is {locked.status}; request a new one")
        locked.size = int(head.get("ContentLength", 0))
        if refusal is not None:
            locked.status = Upload.Status.REJECTED
            locked.save(update_fields=["status", "size"])
        else:
            locked.status = Upload.Status.CONFIRMED
            locked.confirmed_at = timezone.now()
            locked.save(update_fields=["status", "size", "confirmed_at"])
    if refusal is not None:
        log.info("upload_refused", upload_id=str(upload_id), reason=refusal)
        raise UploadRefused(refusal)
    return locked


def upload_cleanup(*, older_than: timedelta | None = None) -> int:
    """Delete the objects of uploads never confirmed in time, and of refused ones; mark them
    expired. Returns how many were cleaned up."""
    cutoff = timezone.now() - (older_than or timedelta(seconds=settings.UPLOADS_PENDING_SECONDS))
    stale = Upload.objects.filter(status=Upload.Status.PENDING, created_at__lt=cutoff)
    refused = Upload.objects.filter(status=Upload.Status.REJECTED)
    with pin_to_primary():
        doomed = list((stale | refused).values_list("pk", "key")[:1000])
    client = s3_client()
    for pk, key in doomed:
        # Deleting a key that was never uploaded is a no-op for S3.
        client.delete_object(Bucket=bucket_name(), Key=key)
        Upload.objects.filter(pk=pk).update(status=Upload.Status.EXPIRED)
    return len(doomed)
