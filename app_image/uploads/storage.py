"""The uploads bucket through django-storages: one configuration for reads, presigns and HEADs."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings
from django.core.files.storage import Storage, storages

STORAGE_ALIAS = "uploads"


def uploads_storage() -> Storage:
    """The S3 storage of the uploads bucket (settings.STORAGES["uploads"])."""
    return storages[STORAGE_ALIAS]


@functools.cache
def s3_client() -> Any:
    """One boto3 S3 client per process, built from the storage's own options.

    The storage keeps its boto3 resource per thread (resources are not thread-safe), and under
    ASGI every request runs in a thread of its own, so each request would build one (~100 ms).
    Clients are thread-safe: presigning and HEADs share this one.
    """
    options = settings.STORAGES[STORAGE_ALIAS]["OPTIONS"]
    return boto3.session.Session().client(
        "s3",
        region_name=options["region_name"],
        endpoint_url=options["endpoint_url"],
        aws_access_key_id=options["access_key"],
        aws_secret_access_key=options["secret_key"],
        # Virtual-hosted, regional URLs on AWS: the global endpoint answers a bucket created
        # in another region with 307 redirects for up to a day, which a browser's POST does not
        # follow. An emulator on an endpoint URL keeps path-style addressing.
        config=Config(signature_version=options["signature_version"],
                      s3={"addressing_style": "path" if options["endpoint_url"] else "virtual"}),
    )


def bucket_name() -> str:
    """The uploads bucket's name."""
    return str(settings.STORAGES[STORAGE_ALIAS]["OPTIONS"]["bucket_name"])
