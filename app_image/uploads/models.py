"""Uploads' data: one row per issued presigned POST, from issue to confirmation or cleanup."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Upload(models.Model):
    """An object key issued to one principal, and what the confirmation found there."""

    class Status(models.TextChoices):
        PENDING = "pending"
        CONFIRMED = "confirmed"
        REJECTED = "rejected"
        EXPIRED = "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="+")
    key = models.CharField(max_length=255, unique=True)
    content_type = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    declared_size = models.BigIntegerField()
    """The file's size in bytes as the client declared it; the POST policy pins it."""
    size = models.BigIntegerField(null=True)
    """The size the confirmation found in the bucket."""
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="upload_status_created")]

    def __str__(self) -> str:
        return self.key
