"""Uploads settings (issue 20), imported at the end of base.py: the S3 bucket through
django-storages, the POST policy's limits, and the beat sweep of unconfirmed uploads."""

from __future__ import annotations

from celery.schedules import crontab

from config.settings.base import CELERY_BEAT_SCHEDULE, CELERY_TASK_ROUTES, ENV, STORAGES

UPLOADS_MAX_BYTES: int = ENV["UPLOADS_MAX_BYTES"]
UPLOADS_CONTENT_TYPES = ("image/png", "image/jpeg", "application/pdf", "text/plain")
UPLOADS_PRESIGN_SECONDS = 15 * 60
"""How long a presigned POST is valid."""
UPLOADS_PENDING_SECONDS = 60 * 60
"""An upload not confirmed this long after it was issued is removed by the sweep."""

STORAGES["uploads"] = {
    "BACKEND": "storages.backends.s3.S3Storage",
    "OPTIONS": {
        "bucket_name": ENV["UPLOADS_BUCKET"],
        "region_name": ENV["UPLOADS_REGION"],
        # Empty in AWS (the regional endpoint); the local S3 server's URL on loopback.
        "endpoint_url": ENV["UPLOADS_ENDPOINT_URL"] or None,
        # Empty in AWS: the SDK's default chain then finds the Pod Identity credentials.
        "access_key": ENV["UPLOADS_ACCESS_KEY_ID"] or None,
        "secret_key": ENV["UPLOADS_SECRET_ACCESS_KEY"] or None,
        "signature_version": "s3v4",
        # Reads stay in memory: a SpooledTemporaryFile with no size limit never touches disk.
        "max_memory_size": 0,
        "file_overwrite": False,
        "default_acl": None,
        "querystring_auth": True,
    },
}

CELERY_TASK_ROUTES["uploads.tasks.upload_cleanup"] = {"queue": "low", "routing_key": "low"}
CELERY_BEAT_SCHEDULE["uploads-cleanup"] = {
    "task": "uploads.tasks.upload_cleanup",
    "schedule": crontab(minute="*/15"),
}
