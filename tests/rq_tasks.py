"""Tasks that an unmodified ``rq worker`` runs in the target tests: each run counts itself
under the fire time it stands for, so a test sees every fire ran exactly once."""

from __future__ import annotations

from typing import Any

from rq import get_current_job


def tick(counters: str) -> None:
    """Add one to ``<counters>:<fire time>``."""
    job = get_current_job()
    assert job is not None
    job.connection.incr(f"{counters}:{job.meta['scheduled_for']}")


def fail(counters: str) -> None:
    """Count the attempt under ``<counters>:<fire time>``, then fail (for retries)."""
    tick(counters)
    raise RuntimeError("this task always fails")


def hold(counters: str) -> None:
    """Count the run under its fire time, then stay on until the test hands out a token on
    ``<counters>-gate``; ``<counters>-overlaps`` counts runs that started while another was
    on."""
    job = get_current_job()
    assert job is not None
    hold_run(job.connection, counters, job.meta["scheduled_for"])


def hold_run(client: Any, counters: str, fire: int | None) -> None:
    """The body of ``hold`` (shared with tests/dramatiq_app.py)."""
    if client.incr(f"{counters}-on") > 1:
        client.incr(f"{counters}-overlaps")
    client.incr(f"{counters}:{fire}")
    client.blpop([f"{counters}-gate"], timeout=120)
    client.decr(f"{counters}-on")
