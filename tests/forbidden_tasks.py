"""A module a worker must never import unless allowed: importing it leaves a mark."""

from __future__ import annotations

IMPORTED = True


def run() -> None:
    return None
