"""``python -m django confirm_orders 1 2 3``: enqueue confirmations from the shell, in one
round trip (a batch on the default Queue)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from scheduler.defaults import default_queue

from ...tasks import confirm_order


class Command(BaseCommand):
    help = "Enqueue the confirmation of each order id given."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("order_ids", nargs="+", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        with default_queue().batch() as batch:
            for order_id in options["order_ids"]:
                confirm_order.on(batch).enqueue(order_id)
        self.stdout.write(f"enqueued {len(options['order_ids'])} confirmations")
