"""Root URLs: one include per bounded context, plus health."""

from django.urls import include, path

urlpatterns = [
    path("", include("health.urls")),
    path("", include("content.urls")),
    path("api/accounts/", include("accounts.urls")),
    path("api/checkout/", include("checkout.urls")),
    path("api/uploads/", include("uploads.urls")),
]
