"""Uploads' HTTP adapters (JSON): request a presigned POST, confirm it, read the file back.

Every view needs a signed-in principal; CSRF protection stays on (session cookies)."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View

from uploads.models import Upload
from uploads.selectors import upload_content, upload_get
from uploads.services import UploadError, upload_confirm, upload_request

NOT_SIGNED_IN = {"error": "sign in first: uploads need an authenticated principal"}


def _upload_body(upload: Upload) -> dict[str, object]:
    return {"id": str(upload.id), "key": upload.key, "content_type": upload.content_type,
            "size": upload.size, "status": upload.status}


class UploadRequestApi(View):
    """Issue a presigned POST for one file."""

    def post(self, request: HttpRequest) -> JsonResponse:
        """201 with the POST's url and fields; 400 naming the allowed content types."""
        if not request.user.is_authenticated:
            return JsonResponse(NOT_SIGNED_IN, status=401)
        try:
            content_type = json.loads(request.body)["content_type"]
            if not isinstance(content_type, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return JsonResponse({"error": "expected JSON {content_type}; allowed: "
                                 + ", ".join(settings.UPLOADS_CONTENT_TYPES)}, status=400)
        try:
            presigned = upload_request(owner_id=request.user.pk, content_type=content_type)
        except UploadError as exc:
            return JsonResponse({"error": str(exc)}, status=exc.status)
        return JsonResponse(
            {"id": str(presigned.upload.id), "url": presigned.url, "fields": presigned.fields,
             "max_bytes": settings.UPLOADS_MAX_BYTES},
            status=201,
        )


class UploadConfirmApi(View):
    """Confirm that the file arrived; the app checks it before recording it."""

    def post(self, request: HttpRequest, upload_id: uuid.UUID) -> JsonResponse:
        """200 with the recorded upload; 404, 409 (not arrived) or 422 (refused) otherwise."""
        if not request.user.is_authenticated:
            return JsonResponse(NOT_SIGNED_IN, status=401)
        try:
            upload = upload_confirm(owner_id=request.user.pk, upload_id=upload_id)
        except UploadError as exc:
            return JsonResponse({"error": str(exc)}, status=exc.status)
        return JsonResponse(_upload_body(upload))


class UploadContentApi(View):
    """The bytes of a confirmed upload, read server-side from the bucket."""

    def get(self, request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
        """200 with the file, 404 when it is not the principal's confirmed upload."""
        if not request.user.is_authenticated:
            return JsonResponse(NOT_SIGNED_IN, status=401)
        upload = upload_get(owner_id=request.user.pk, upload_id=upload_id)
        if upload is None:
            return JsonResponse({"error": "no confirmed upload with this id is yours"},
                                status=404)
        return HttpResponse(upload_content(upload=upload), content_type=upload.content_type)
