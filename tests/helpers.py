"""Helpers shared by tests."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import pytest
import redis

from scheduler.cli.main import main
from scheduler.clock import Clock


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Return as soon as ``predicate()`` is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.005)


def run_cli(
    capsys: pytest.CaptureFixture[str], *args: str, clock: Clock | None = None
) -> tuple[int, str, str]:
    """Run the `scheduler` command in this process: (exit code, stdout, stderr); ``clock``
    pins what it reads as "now"."""
    old = sys.argv
    sys.argv = ["scheduler", *args]
    try:
        main(clock)
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:
        code = 0
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    return code, out, err


def fired_seconds(client: redis.Redis, key: str) -> list[int]:
    """The fire instants of an ``every: 1s`` job that its record of enqueued fires
    (``{ns}:fired:<job>``) holds: stretches (lo, hi], each member "<lo> <rule tag>" scored
    hi, or "<hi>" alone for one instant (docs/operations.md)."""
    instants: list[int] = []
    for member, score in client.zrange(key, 0, -1, withscores=True):
        hi = int(score)
        lo = int(member.split()[0]) if b" " in member else hi - 1
        instants += range(lo + 1, hi + 1)
    return sorted(instants)
