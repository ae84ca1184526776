"""Upload reads: a principal's confirmed upload and its bytes (from S3, never the local disk)."""

from __future__ import annotations

import uuid

from uploads.models import Upload
from uploads.storage import uploads_storage


def upload_get(*, owner_id: int, upload_id: uuid.UUID) -> Upload | None:
    """The principal's confirmed upload with this id, or None."""
    return Upload.objects.filter(
        id=upload_id, owner_id=owner_id, status=Upload.Status.CONFIRMED
    ).first()


def upload_content(*, upload: Upload) -> bytes:
    """The object's bytes, read through django-storages (in memory)."""
    with uploads_storage().open(upload.key, "rb") as handle:
        return handle.read()
