"""The interface of a target: what a fire of a job writes into the target's Redis keys.

A ``Target`` is built once per schedule from the file's ``targets: <key>:`` settings; its
``sender`` for a job precomputes everything that does not change per fire, so a fire only
fills in its id and times. A fire's writes are plain Redis commands (name, key, then
arguments) that the dispatch, backfill and send scripts run in the script that checks the
lease and moves the watermark.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..schedule.loader import Job

# One Redis command: its name, its key, its arguments: each word text or bytes.
Write = list[Any]
SHARED_WORD = 256  # longer words (a message) are each fire's own: not looked up to share


@dataclass(frozen=True, slots=True)
class TargetFire:
    """One fire as the target's worker will see it: the message id and the writes."""

    id: str
    writes: list[Write]


class Sender(ABC):
    """A job's messages for its target, prepared once for the job."""

    @abstractmethod
    def fire(self, at: int | None, now: float, delay: int = 0, by_hand: bool = False) -> TargetFire:
        """The message of the fire at ``at`` (None: a run triggered by hand) sent at
        ``now``; ``delay`` (jitter) seconds after ``at`` before it may run. ``by_hand``:
        its expiry counts from ``now`` (backfill, trigger; docs/schedule.md, expires)."""

    @abstractmethod
    def keys(self) -> list[str]:
        """The Redis keys this job's fires are written to."""

    def probe(self) -> list[str] | None:
        """Where the target shows that the run of a message id is still queued or running,
        for ``overlap: skip`` (see lua/_overlap.lua); None where it cannot be seen."""
        return None


class Target(ABC):
    """A system whose workers run fires (Celery, ...), with the file's settings for it."""

    key: str  # the job key naming it

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings

    @abstractmethod
    def sender(self, job: Job) -> Sender:
        """The prepared messages of ``job``; a TargetError if they cannot be built."""

    def broker_url(self) -> str | None:
        """The broker URL the target's workers use, when the file or environment names it."""
        return None

    def missing(self, name: str) -> str | None:
        """Why the target's workers would not find ``name`` (a task, function or actor),
        or None; it imports the application (``scheduler check --import``). A
        TargetError when the application itself cannot be loaded."""
        return None


class Senders:
    """Each job's sender, built on first use and kept while the job stays the same."""

    def __init__(self, targets: Mapping[str, Target]) -> None:
        self._targets = targets
        self._made: dict[str, tuple[Job, Sender]] = {}

    def of(self, job: Job) -> Sender:
        """The sender of ``job`` (rebuilt when the job changed)."""
        made = self._made.get(job.name)
        if made is None or made[0] is not job:
            made = (job, self._targets[job.target].sender(job))
            self._made[job.name] = made
        return made[1]


def pack_writes(
    writes: Sequence[Write], words: list[Any], index: dict[Any, int], first: int
) -> list[list[int]]:
    """The writes as lists of the ARGV positions of their words, which are appended to
    ``words`` (a short word once: ``index`` remembers where); ``words[0]`` is ARGV
    ``first`` (1-based). Text and bytes reach the script as they are, not inside JSON
    (lua/_send.lua)."""
    packed = []
    for write in writes:
        refs = []
        for word in write:
            short = len(word) <= SHARED_WORD
            at = index.get(word) if short else None
            if at is None:
                at = first + len(words)
                words.append(word)
                if short:
                    index[word] = at
            refs.append(at)
        packed.append(refs)
    return packed
