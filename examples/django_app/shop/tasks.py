"""The app's tasks, registered with ``@task`` when a worker imports this module."""

from __future__ import annotations

import logging

from scheduler import task

log = logging.getLogger(__name__)


@task(queue="orders", retries=5)
def confirm_order(order_id: int) -> None:
    """Stands in for the mail confirming an order (it would read the order with the ORM)."""
    log.info("order confirmed order=%s", order_id)
