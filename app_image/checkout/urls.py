"""Checkout URLs."""

from django.urls import path

from checkout import views

urlpatterns = [
    path("prepare/", views.CheckoutPrepareApi.as_view(), name="checkout-prepare"),
    path("prepare-sync/", views.CheckoutPrepareSyncApi.as_view(), name="checkout-prepare-sync"),
    path("orders/", views.OrderCreateApi.as_view(), name="order-create"),
]
