"""Settings of the example project: only what the guide needs."""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["examples.django_app.shop.apps.ShopConfig"]
ROOT_URLCONF = "examples.django_app.urls"
DATABASES: dict[str, dict[str, str]] = {}

# Read by ShopConfig.ready(): the default Queue every task's .enqueue() uses.
SCHEDULER_REDIS_URL = os.environ.get("SCHEDULER_REDIS_URL", "redis://localhost:6379/0")
SCHEDULER_NAMESPACE = os.environ.get("SCHEDULER_NAMESPACE", "scheduler")
