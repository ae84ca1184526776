"""The uploads bucket through django-storages: one configuration for reads, presigns and HEADs."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import Storage, storages

STORAGE_ALIAS = "uploads"


def uploads_storage() -> Storage:
    """The S3 storage of the uploads bucket (settings.STORAGES["uploads"])."""
    return storages[STORAGE_ALIAS]


def s3_client() -> Any:
    """The boto3 S3 client behind the storage (same endpoint, region and credentials)."""
    return uploads_storage().connection.meta.client


def bucket_name() -> str:
    """The uploads bucket's name."""
    return uploads_storage().bucket_name
