"""Uploads URLs."""

from django.urls import path

from uploads import views

urlpatterns = [
    path("", views.UploadRequestApi.as_view(), name="upload-request"),
    path("confirm/", views.UploadConfirmApi.as_view(), name="upload-confirm"),
    path("<uuid:upload_id>/content/", views.UploadContentApi.as_view(), name="upload-content"),
]
