"""Tasks that an unmodified ``rq worker`` runs in the target tests: each run counts itself
under the fire time it stands for, so a test sees every fire ran exactly once."""

from __future__ import annotations

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
