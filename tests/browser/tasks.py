"""Tasks of the browser tests' schedule (run by an in-process worker)."""

from __future__ import annotations

BROKEN = {"flaky": True}


def ok() -> None:
    """Succeeds."""


def flaky() -> None:
    """Fails while ``BROKEN["flaky"]`` is set, with job-controlled text in its error."""
    if BROKEN["flaky"]:
        raise RuntimeError("upstream <b>down</b> <script>alert(1)</script>")
