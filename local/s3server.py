"""The local S3: moto's server mode on loopback, standing in for the uploads bucket.

moto (from PyPI, pure Python, no network) answers the S3 API over HTTP, including presigned
POSTs and HEAD. It does not enforce a POST policy's limits, which is why the app checks size
and type on confirmation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import boto3
import httpx

LOCAL_BUCKET = "quintet-local-uploads"
LOCAL_REGION = "us-east-1"
LOCAL_ACCESS_KEY_ID = "local-only-key"
LOCAL_SECRET_ACCESS_KEY = "local-only-secret"


def s3_env(url: str, bucket: str = LOCAL_BUCKET) -> dict[str, str]:
    """The app's UPLOADS_* variables for a local S3 server at ``url``."""
    return {
        "UPLOADS_BUCKET": bucket,
        "UPLOADS_REGION": LOCAL_REGION,
        "UPLOADS_ENDPOINT_URL": url,
        "UPLOADS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
        "UPLOADS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
    }


def s3_client(url: str):
    """A boto3 S3 client for the local server."""
    return boto3.client(
        "s3", endpoint_url=url, region_name=LOCAL_REGION,
        aws_access_key_id=LOCAL_ACCESS_KEY_ID, aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
    )


def wait_until_serving(url: str, timeout: float = 30) -> None:
    """Poll the server until it answers HTTP (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"the local S3 server at {url} did not answer within {timeout:.0f}s")


def bucket_ensure(url: str, bucket: str = LOCAL_BUCKET) -> None:
    """Create the uploads bucket unless it exists."""
    client = s3_client(url)
    if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=bucket)


@dataclass
class ThreadedS3:
    """moto's server in a thread of this process (tests start their own on a free port)."""

    port: int

    def __post_init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        """The endpoint URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, bucket: str = LOCAL_BUCKET) -> ThreadedS3:
        """Serve, wait until it answers, create the bucket."""
        self._server.start()
        wait_until_serving(self.url)
        bucket_ensure(self.url, bucket)
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()
