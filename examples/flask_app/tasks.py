"""The app's tasks: a worker runs them with ``scheduler worker --import
examples.flask_app.tasks``."""

from __future__ import annotations

import logging

from scheduler import task

log = logging.getLogger(__name__)


@task(queue="reports", timeout=300)
def build_report(account: int, fmt: str = "pdf") -> None:
    """Stands in for a slow report that must not hold up the request."""
    log.info("report built account=%s format=%s", account, fmt)
