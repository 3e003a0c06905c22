"""The app's configuration: the default Queue is configured once, when Django starts."""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings

import scheduler


class ShopConfig(AppConfig):
    name = "examples.django_app.shop"

    def ready(self) -> None:
        scheduler.configure(
            url=settings.SCHEDULER_REDIS_URL, namespace=settings.SCHEDULER_NAMESPACE
        )
