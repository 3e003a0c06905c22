"""The dashboard's pages about enqueued jobs: a queue's waiting and delayed jobs (paged, each
with a cancel button), and one job's status (docs/dashboard.md)."""

from __future__ import annotations

import redis

from ..keys import Keys
from ..waiting import read_delayed, read_waiting
from .data import Page


def queue_page(
    client: redis.Redis, keys: Keys, queue: str, numbers: tuple[int, int], per_page: int
) -> dict[str, Page]:
    """Page ``numbers[0]`` of ``queue``'s waiting jobs (next to run first) and page
    ``numbers[1]`` of its delayed ones (soonest first)."""
    pages = {}
    for name, read, asked in (
        ("waiting", read_waiting, numbers[0]),
        ("delayed", read_delayed, numbers[1]),
    ):
        items, total = read(client, keys, queue, (asked - 1) * per_page, per_page)
        count = max(1, -(-total // per_page))
        number = min(asked, count)
        if number < asked:  # past the end (the queue drained): show the last page
            items, total = read(client, keys, queue, (number - 1) * per_page, per_page)
        pages[name] = Page(list(items), number, count, total)
    return pages
