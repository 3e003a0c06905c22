"""How many examples a Hypothesis test tries: the full count in CI (or with
``SCHEDULER_FULL_EXAMPLES=1``), a fifth of it on a developer's machine."""

from __future__ import annotations

import os

FULL = bool(os.environ.get("CI") or os.environ.get("SCHEDULER_FULL_EXAMPLES"))


def examples(full: int) -> int:
    """``full`` in CI, else a fifth of it (at least 10)."""
    return full if FULL else max(10, full // 5)
