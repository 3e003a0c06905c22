"""A Celery application as a user writes it, for the Celery target's process tests: its
one task counts its runs per fire time (``runs:<label>:<fire>``) in the broker's Redis.

The broker is ``CELERY_BROKER_URL``; kombu's key prefix is ``CELERY_PREFIX``.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from celery import Celery

URL = os.environ["CELERY_BROKER_URL"]
app = Celery("tests.celery_app", broker=URL)
app.conf.broker_transport_options = {"global_keyprefix": os.environ.get("CELERY_PREFIX", "")}
app.conf.broker_connection_retry_on_startup = True
runs = redis.Redis.from_url(URL)


@app.task(name="tests.tick", bind=True)  # type: ignore[untyped-decorator]
def tick(self: Any, label: str) -> None:
    """Count this run under its fire time (the message's ``scheduled_for`` header)."""
    runs.incr(f"runs:{label}:{self.request.get('scheduled_for')}")
