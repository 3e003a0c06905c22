"""The app's tasks: a worker runs them with ``scheduler worker --import
examples.fastapi_app.tasks``."""

from __future__ import annotations

import logging

from scheduler import task

log = logging.getLogger(__name__)


@task(queue="mailers", retries=5)
async def send_welcome(email: str, name: str = "there") -> None:
    """Stands in for a mail sent through an async client."""
    log.info("welcome mail sent to=%s name=%s", email, name)
