"""Uploads: presigned POSTs straight to S3, confirmation by HEAD, cleanup of the unconfirmed."""
