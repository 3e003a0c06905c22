"""``--durability``: whether a write must reach a replica before the caller goes on.

``local`` (the default) trusts the primary. ``replicated`` follows each script call that
writes (a dispatch, an acknowledgement, an enqueue) with ``WAIT 1 <timeout>`` on the same
connection. When no replica confirms in time the write still stands and work goes on
(availability first): the writes are counted *unconfirmed*, one loud line is logged, and
while it lasts writes are not waited on, but at most once a second one is, as a probe; the
first a replica confirms confirms every write before it (docs/operations.md#durability).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MODES = ("local", "replicated")


@dataclass
class Durability:
    """The durability of one process's writes, and what is known of their confirmation."""

    mode: str = "local"
    timeout: float = 1.0  # seconds a write waits for a replica
    probe_every: float = 1.0  # while unconfirmed: seconds between writes that wait
    sequence: int = 0  # writes sent so far (each script call counts one)
    confirmed_upto: int = 0  # every write up to this sequence number reached a replica
    unconfirmed_total: int = 0  # writes that went on without a replica's confirmation
    since: float | None = None  # monotonic time writes went unconfirmed; None: they are not
    _last_probe: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"durability must be one of {', '.join(MODES)}, not {self.mode!r}")

    @property
    def replicated(self) -> bool:
        """Whether writes wait for a replica."""
        return self.mode == "replicated"

    @property
    def unconfirmed(self) -> int:
        """Writes sent that no replica has confirmed yet."""
        return self.sequence - self.confirmed_upto if self.replicated else 0

    def start_write(self) -> tuple[int, bool]:
        """A write is being sent: (its sequence number, whether to WAIT after it)."""
        with self._lock:
            self.sequence += 1
            now = time.monotonic()
            wait = self.since is None or now - self._last_probe >= self.probe_every
            if wait:
                self._last_probe = now
            else:
                self.unconfirmed_total += 1
            return self.sequence, wait

    def wait_args(self) -> tuple[str, int, int]:
        """The WAIT command to send after a write."""
        return ("WAIT", 1, max(1, round(self.timeout * 1000)))

    def record(self, sequence: int, replicas: int) -> bool:
        """The reply of the WAIT after write ``sequence``: True if a replica has it."""
        with self._lock:
            if replicas >= 1:
                if self.since is not None:
                    log.warning(
                        "replica confirms writes again unconfirmed_for=%.1fs confirmed=%d",
                        time.monotonic() - self.since,
                        sequence - self.confirmed_upto,
                    )
                self.since = None
                self.confirmed_upto = max(self.confirmed_upto, sequence)
                return True
            self.unconfirmed_total += 1
            if self.since is None:
                self.since = time.monotonic()
                log.error(
                    "NO REPLICA CONFIRMED A WRITE within %.3fs: going on unconfirmed "
                    "(availability first); a failover now can lose these writes",
                    self.timeout,
                )
            return False
