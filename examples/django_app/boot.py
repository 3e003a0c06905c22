"""Import this first in a worker (``scheduler worker --import examples.django_app.boot
--import examples.django_app.shop.tasks``): it sets Django up, so tasks may use the ORM."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
django.setup()
