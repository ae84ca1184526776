"""Uploads' HTTP adapters (JSON): request a presigned POST, confirm it, read the file back.

They authenticate like every write API (core.auth through REST_FRAMEWORK: a knox token for API
clients, the session with CSRF for browsers). Asking and confirming need `uploads.add_upload`
(customers and editors hold it); reading back needs only a principal, and only its own file.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import JsonApi
from core.auth import permission_required
from uploads.models import Upload
from uploads.selectors import upload_content, upload_get
from uploads.services import UploadError, upload_confirm, upload_request

ERROR_NOT_YOURS = "no confirmed upload with this id is yours"


def _upload_body(upload: Upload) -> dict[str, object]:
    return {"id": str(upload.id), "key": upload.key, "content_type": upload.content_type,
            "size": upload.size, "status": upload.status}


def _refused(error: UploadError) -> Response:
    """The service's refusal in the API's one error shape, naming the field."""
    return Response({"error": str(error), "fields": {error.field: [str(error)]}},
                    status=error.status)


class UploadRequestApi(JsonApi):
    """Issue a presigned POST for one file (`uploads.add_upload`)."""

    permission_classes = [permission_required("uploads.add_upload")]

    class InputSerializer(serializers.Serializer):
        """The file to be uploaded: its content type and its exact size in bytes."""

        content_type = serializers.CharField(max_length=100)
        size = serializers.IntegerField()

    def post(self, request: Request) -> Response:
        """201 with the POST's url and fields; 400 naming the field and what is allowed."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            presigned = upload_request(owner_id=request.user.pk, **serializer.validated_data)
        except UploadError as exc:
            return _refused(exc)
        return Response(
            {"id": str(presigned.upload.id), "url": presigned.url, "fields": presigned.fields,
             "max_bytes": settings.UPLOADS_MAX_BYTES},
            status=201,
        )


class UploadConfirmApi(JsonApi):
    """Confirm that the file arrived; the app checks it before recording it."""

    permission_classes = [permission_required("uploads.add_upload")]

    class InputSerializer(serializers.Serializer):
        """The key the presigned POST was issued for (its `fields.key`)."""

        key = serializers.CharField(max_length=255)

    def post(self, request: Request) -> Response:
        """200 with the recorded upload; 400 (key), 409 (not arrived) or 422 (refused)."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            upload = upload_confirm(owner_id=request.user.pk, **serializer.validated_data)
        except UploadError as exc:
            return _refused(exc)
        return Response(_upload_body(upload))


class IgnoreAccept(BaseContentNegotiation):
    """Ignore Accept: the file goes out in its own type, errors as JSON (never a 406)."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        """The first parser (JSON)."""
        return parsers[0]

    def select_renderer(self, request: Request, renderers: list[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        """The first renderer (JSON) for error bodies."""
        return renderers[0], renderers[0].media_type


class UploadContentApi(JsonApi):
    """The bytes of a confirmed upload, read server-side from the bucket."""

    content_negotiation_class = IgnoreAccept

    def get(self, request: Request, upload_id: uuid.UUID) -> HttpResponse:
        """200 with the file, 404 when it is not the principal's confirmed upload."""
        upload = upload_get(owner_id=request.user.pk, upload_id=upload_id)
        if upload is None:
            return Response({"error": ERROR_NOT_YOURS}, status=404)
        return HttpResponse(upload_content(upload=upload), content_type=upload.content_type)
