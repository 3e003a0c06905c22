"""The tasks schedule.example.yml names: small stand-ins that say what they would do.

Each is an ordinary function (one is ``async def``); ``current_job()`` tells it which fire
of which job it stands for.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from scheduler import current_job

log = logging.getLogger(__name__)


def _say(what: str, **details: Any) -> None:
    job = current_job()
    fire = job.scheduled_for.isoformat() if job and job.scheduled_for else "now"
    extra = " ".join(f"{key}={value}" for key, value in details.items())
    log.info("%s (fire %s, attempt %s) %s", what, fire, job.attempt if job else 1, extra)


def refresh_cache() -> None:
    _say("cache refreshed")


def sync_inventory(warehouse: str, full: bool = False) -> None:
    _say("inventory synced", warehouse=warehouse, full=full)


def heartbeat() -> None:
    _say("still alive")


def cleanup_guests(days: int, dry_run: bool = False) -> None:
    _say("guest accounts cleaned up", older_than_days=days, dry_run=dry_run)


def weekly_report() -> None:
    _say("weekly report mailed")


async def poll_payments() -> None:
    await asyncio.sleep(0.01)
    _say("payments polled")


def backup_database() -> None:
    _say("database backed up")


def close_books() -> None:
    _say("books closed for the month")


def remind_team(channel: str, text: str) -> None:
    _say("reminder posted", channel=channel, text=text)


def send_invoices() -> None:
    _say("invoices sent")


def run_payroll() -> None:
    _say("payroll run")


def prepare_board_pack() -> None:
    _say("board pack prepared")


def file_taxes() -> None:
    _say("taxes filed")
