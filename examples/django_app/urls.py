"""The example project's one route."""

from __future__ import annotations

from django.urls import path

from .shop.views import order_placed

urlpatterns = [path("orders/<int:order_id>/placed", order_placed)]
