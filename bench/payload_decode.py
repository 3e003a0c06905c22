"""What a worker's payload checks cost: decode of a payload against the bare JSON parse.

Prints, for a no-op payload (what bench/worker_throughput.py enqueues) and a 600-byte one
with arguments, the CPU time per call (best of --rounds trials, process time, so other
load on the machine inflates it less) of:
  * ``json.loads`` of the bytes: the parse ``decode`` made before payloads were bounded;
  * ``scheduler.documents.load``: the same parse plus the size, UTF-8, nesting and
    encodability checks;
  * ``scheduler.jobs.decode``: all of it plus the field checks, as a worker calls it;
  * ``scheduler.jobs.encode`` with and without the size and nesting limit, as
    ``Queue.enqueue`` calls it.

Run: .venv/bin/python bench/payload_decode.py [--rounds 25]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from scheduler.documents import load
from scheduler.jobs import MAX_PAYLOAD_BYTES, build_payload, decode, encode

CALLS = 20_000
WIDTHS = (10, 6, 7, 7, 8)


def payloads() -> dict[str, dict[str, Any]]:
    """The two payloads measured."""
    noop = build_payload("tasks_ours:noop", enqueued_at=1_700_000_000.123)
    report = build_payload(
        "myapp.reports:build",
        [42, "2026-11", {"to": ["a@example.com", "b@example.com"], "format": "pdf"}],
        {"note": "x" * 200, "ids": list(range(50))},
        enqueued_at=1_700_000_000.123,
        timeout=30,
    )
    return {"no-op": noop, "with arguments": report}


def best(call: Callable[[], object], rounds: int) -> float:
    """Microseconds of CPU per call, the best of ``rounds`` trials."""
    fastest = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(CALLS):
            call()
        fastest = min(fastest, (time.process_time() - started) / CALLS)
    return fastest * 1e6


def row(payload: dict[str, Any], rounds: int) -> list[float]:
    """The five figures of one payload."""
    raw = encode(payload).encode()
    return [
        best(lambda: json.loads(raw), rounds),
        best(lambda: load(raw, MAX_PAYLOAD_BYTES, "payload"), rounds),
        best(lambda: decode(raw), rounds),
        best(lambda: encode(payload), rounds),
        best(lambda: encode(payload, MAX_PAYLOAD_BYTES), rounds),
    ]


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    rounds = parser.parse_args().rounds
    print("payload          bytes json.loads   load  decode  encode  limited   (µs per call)")
    for name, payload in payloads().items():
        size = len(encode(payload).encode())
        figures = " ".join(
            f"{f:>{w}.2f}" for f, w in zip(row(payload, rounds), WIDTHS, strict=True)
        )
        print(f"{name:<16} {size:>5} {figures}")


if __name__ == "__main__":
    main()
