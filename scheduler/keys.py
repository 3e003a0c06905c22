"""Every Redis key of the package is built here and nowhere else; this docstring is the schema.

Each key starts with the namespace in braces, ``{ns}:``, so in a Redis Cluster all keys of
one namespace hash to one slot and a Lua script may touch any of them. ``<queue>`` is a
queue name, ``<job>`` a job name of the schedule file, ``<worker>`` a worker id
(``host:pid:random``). Payloads are the JSON documents of ``scheduler.jobs``.

Queues and delayed jobs
    ``{ns}:queue:<queue>``           LIST of payloads. Enqueue pushes at the head (LPUSH);
                                     workers take from the tail, so a queue is FIFO; a job
                                     put back (shutdown, dead worker) goes to the tail and
                                     runs next.
    ``{ns}:delayed:<queue>``         ZSET payload -> epoch second it is due. Delayed jobs and
                                     retries wait here until a worker serving ``<queue>``
                                     promotes them (inside its fetch script).
    ``{ns}:wake:<queue>``            LIST of at most 16 tokens, pushed when a job lands in an
                                     empty queue; idle workers BLPOP on the wake lists of their
                                     queues. A fetch that leaves a queue empty deletes its wake
                                     list; one that leaves jobs pushes a token.
    ``{ns}:queues``                  SET of every queue name ever enqueued to (added when a
                                     job lands in an empty queue or a delayed set).
    ``{ns}:enqueued:<id>``           STRING marker of a job id enqueued in the last
                                     ``ENQUEUE_DEDUPE`` seconds (5 min), written by the
                                     enqueue script: a call sent again (redis-py's retry of
                                     a broken pipeline, the application's own retry) with
                                     the same id enqueues nothing.
    ``{ns}:unique:<key>``            STRING id of the job that holds unique key ``<key>``
                                     (``enqueue(unique_for=, key=)``) while it waits or runs,
                                     with a TTL of ``unique_for``; deleted, if it still names
                                     the job, when the job ends (settle) or is cancelled.
    ``{ns}:job:<id>``                HASH record of a tracked job (enqueued with
                                     ``result_ttl``): status, attempt, task, queue,
                                     enqueued_at, due, started_at, finished_at, error, result
                                     (the JSON return value). Kept ``result_ttl`` seconds
                                     after the job ends.
    ``{ns}:done:<id>``               LIST holding one token once a tracked job has ended:
                                     ``Queue.result`` waits on it with BLMOVE (to itself, so
                                     every waiter sees it). Same lifetime as the record.
    ``{ns}:cancel:<id>``             STRING flag asking the worker that runs job ``<id>`` to
                                     stop it (``Queue.cancel``), one day; workers read the
                                     flags of their running jobs with each heartbeat.
    ``{ns}:paused_queues``           SET of paused queue names (``scheduler queue pause``):
                                     no worker's fetch takes jobs from them until resumed.

Workers
    ``{ns}:workers``                 ZSET worker id -> last heartbeat (Redis clock, epoch s).
    ``{ns}:worker:<worker>``         HASH host, pid, queues (JSON list), concurrency,
                                     durability, unconfirmed, started_at; supervisor (the
                                     pid of its ``--processes`` supervisor, for a child) and
                                     quiet (epoch second it went quiet), when they apply.
    ``{ns}:worker:<worker>:jobs:<queue>``
                                     LIST of payloads the worker took from ``<queue>`` and has
                                     not settled yet (reliable fetch: LMOVE from the queue).
                                     When the worker's heartbeat expires another worker moves
                                     them back to the tail of ``<queue>``.
    ``{ns}:worker:<worker>:wake``    LIST: a token pushed here wakes that worker's blocked
                                     fetch (a finished job to acknowledge, or shutdown).

Dead set
    ``{ns}:dead``                    ZSET job id -> epoch second it died; only the newest
                                     ``dead_cap`` (default 10,000) are kept.
    ``{ns}:dead:jobs``               HASH job id -> payload with ``error``, ``traceback`` and
                                     ``failed_at`` added.

Schedule jobs (written by workers, read by ``scheduler status`` and the dispatcher)
    ``{ns}:last:<job>``              HASH of the last finished run: status (ok, failed, dead,
                                     expired), finished_at, duration, fire, error, job_id.
    ``{ns}:active:<job>``            STRING id of the run that is queued or running, set by
                                     the dispatcher for ``overlap: skip``; the worker deletes
                                     it (if it still holds that id) when the run ends, and
                                     no thread of it is still running (``held``).
    ``{ns}:sent:<job>``              STRING id of the last message the dispatcher sent for a
                                     job of another target with ``overlap: skip``; the
                                     target's own record of it shows whether its run is on
                                     (docs/targets.md).
    ``{ns}:held``                    HASH "<run id> <attempt> <worker>" -> "open <job>" or
                                     "over <job>": a thread that still runs an attempt of a
                                     schedule job's run settled at its timeout. Deleted when
                                     the thread ends or its worker is reaped or stops; the
                                     last of a run's entries, once it is "over" (no attempt
                                     to come), releases ``active:<job>``.
    ``{ns}:runs:<job>``              LIST of the job's last 50 finished runs, newest first:
                                     JSON {job, job_id, status, fire, finished_at, duration,
                                     error}; written with ``last:<job>`` (the dashboard).
                                     The newest 5 keep their error (up to 200 characters);
                                     older ones the first 60 bytes of its first line.
    ``{ns}:runs``                    LIST of the last 50 finished runs of any schedule job,
                                     the same JSON (the dashboard's overview).

Statistics (written by workers with their acknowledgements, read by the dashboard)
    ``{ns}:stats:processed:<minute>``
                                     INT runs that ended (succeeded, failed or dead) in that
                                     minute (``<minute>`` = epoch seconds // 60); 2 h TTL.
    ``{ns}:stats:failed:<minute>``   INT runs of that minute that failed (retried or dead).

Leadership and the dispatcher (``scheduler run``)
    ``{ns}:lease``                   STRING JSON {id, epoch, host, pid, since, client,
                                     server} with a TTL: the leader's lease (see
                                     ``scheduler.dispatch.leader``).
    ``{ns}:epoch``                   INT, incremented for every new leader (fencing token),
                                     never below an epoch a live scheduler has seen.
    ``{ns}:primary``                 STRING: the replication id of the primary the last
                                     term began on (a promotion since: docs/operations.md).
    ``{ns}:lease:released``          LIST: a leader stepping down pushes a token; standbys
                                     block on it so they take over at once.
    ``{ns}:schedulers``              ZSET scheduler id -> last heartbeat (epoch s).
    ``{ns}:scheduler:<id>``          HASH host, pid, started, digest, schedule, role,
                                     durability, unconfirmed (writes no replica confirmed)
                                     (60 s TTL),
                                     and refused: JSON {at, count, problems (the first
                                     20 lines)} while its schedule file is refused.
    ``{ns}:generation``              STRING random marker; if it vanishes, Redis lost its data.
    ``{ns}:schedule``                STRING JSON {path, digest, text, by, at}: the schedule
                                     the leader runs, for `status` and the dashboard.
    ``{ns}:state:<job>``             HASH watermark (last fire accounted for, epoch s),
                                     digest (of the job's rule), enqueued_at, job_id,
                                     fired_since (fires at or before it are no longer in
                                     ``fired``). Kept 7 days after the job leaves the file.
    ``{ns}:fired:<job>``             ZSET stretches (lo, hi] of time in which every fire of
                                     one rule was enqueued, scored by hi; member "<lo>
                                     <rule tag>", or "<hi>" for one instant. The newest
                                     ``FIRED_KEEP`` are kept: the record that backfill
                                     dedupes against (lua/_fired.lua).
    ``{ns}:paused``                  HASH job -> JSON {by, at, reason} of paused jobs.
"""

from __future__ import annotations

import re


def as_text(value: object) -> str:
    """A Redis reply as text (replies come back as bytes); bytes that are not UTF-8, which
    only someone writing straight into Redis puts there, are replaced, not an error."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


FIRED_KEEP = 120
"""Stretches of enqueued fires kept per job in ``{ns}:fired:<job>`` (few enough that Redis
keeps the set in its compact encoding)."""

_NAMESPACE = re.compile(r"[A-Za-z0-9_.:-]{1,64}\Z")


class Keys:
    """Key names of one namespace."""

    __slots__ = ("namespace", "prefix")

    def __init__(self, namespace: str = "scheduler") -> None:
        if not _NAMESPACE.match(namespace):
            raise ValueError(f"invalid namespace {namespace!r}: use 1-64 of A-Z a-z 0-9 _ . : -")
        self.namespace = namespace
        self.prefix = "{" + namespace + "}:"

    def queue(self, queue: str) -> str:
        """The list of payloads waiting in ``queue``."""
        return f"{self.prefix}queue:{queue}"

    def delayed(self, queue: str) -> str:
        """The sorted set of ``queue``'s delayed jobs and retries, scored by due time."""
        return f"{self.prefix}delayed:{queue}"

    def enqueued(self, job_id: str) -> str:
        """The marker of job ``job_id``'s enqueue, which makes sending it again a no-op."""
        return f"{self.prefix}enqueued:{job_id}"

    def unique(self, key: str) -> str:
        """The marker naming the job that holds unique key ``key``."""
        return f"{self.prefix}unique:{key}"

    def job(self, job_id: str) -> str:
        """The record of tracked job ``job_id``."""
        return f"{self.prefix}job:{job_id}"

    def job_done(self, job_id: str) -> str:
        """The list that gets a token when tracked job ``job_id`` ends."""
        return f"{self.prefix}done:{job_id}"

    def cancel(self, job_id: str) -> str:
        """The flag asking the worker running job ``job_id`` to stop it."""
        return f"{self.prefix}cancel:{job_id}"

    def wake(self, queue: str) -> str:
        """The wake-up token list of ``queue``."""
        return f"{self.prefix}wake:{queue}"

    def queues(self) -> str:
        """The set of known queue names."""
        return f"{self.prefix}queues"

    def paused_queues(self) -> str:
        """The set of paused queue names (checked by every worker's fetch)."""
        return f"{self.prefix}paused_queues"

    def workers(self) -> str:
        """The sorted set of live workers, scored by last heartbeat."""
        return f"{self.prefix}workers"

    def worker(self, worker_id: str) -> str:
        """The hash describing one worker."""
        return f"{self.prefix}worker:{worker_id}"

    def worker_jobs(self, worker_id: str, queue: str) -> str:
        """The in-progress list of what ``worker_id`` took from ``queue``."""
        return f"{self.prefix}worker:{worker_id}:jobs:{queue}"

    def worker_wake(self, worker_id: str) -> str:
        """The list whose token wakes ``worker_id``'s blocked fetch."""
        return f"{self.prefix}worker:{worker_id}:wake"

    def dead(self) -> str:
        """The sorted set of dead job ids, scored by time of death."""
        return f"{self.prefix}dead"

    def dead_jobs(self) -> str:
        """The hash of dead job id -> payload with the error."""
        return f"{self.prefix}dead:jobs"

    def last(self, job: str) -> str:
        """The hash of the last finished run of schedule job ``job``."""
        return f"{self.prefix}last:{job}"

    def active(self, job: str) -> str:
        """The id of schedule job ``job``'s run that is queued or running (overlap: skip)."""
        return f"{self.prefix}active:{job}"

    def sent(self, job: str) -> str:
        """The id of the last message sent for job ``job`` of another target (overlap:
        skip; docs/targets.md)."""
        return f"{self.prefix}sent:{job}"

    def held(self) -> str:
        """The hash of abandoned threads that still run an attempt of a schedule job's run."""
        return f"{self.prefix}held"

    def runs(self, job: str | None = None) -> str:
        """The list of recent finished runs of schedule job ``job`` (None: of any job)."""
        return f"{self.prefix}runs" if job is None else f"{self.prefix}runs:{job}"

    def stats(self, kind: str, minute: int) -> str:
        """The counter of ``kind`` ("processed" or "failed") runs in epoch minute ``minute``."""
        return f"{self.prefix}stats:{kind}:{minute}"

    def lease(self) -> str:
        """The leader's lease."""
        return f"{self.prefix}lease"

    def epoch(self) -> str:
        """The counter of leadership terms (fencing tokens)."""
        return f"{self.prefix}epoch"

    def primary(self) -> str:
        """The replication id of the Redis primary the last leadership term began on."""
        return f"{self.prefix}primary"

    def lease_released(self) -> str:
        """The list a stepping-down leader pushes to, waking standbys."""
        return f"{self.prefix}lease:released"

    def schedulers(self) -> str:
        """The sorted set of scheduler processes, scored by last heartbeat."""
        return f"{self.prefix}schedulers"

    def scheduler(self, scheduler_id: str) -> str:
        """The hash describing one scheduler process."""
        return f"{self.prefix}scheduler:{scheduler_id}"

    def generation(self) -> str:
        """The marker whose disappearance means Redis lost its data."""
        return f"{self.prefix}generation"

    def schedule(self) -> str:
        """The schedule the leader runs, published for readers."""
        return f"{self.prefix}schedule"

    def state(self, job: str) -> str:
        """Schedule job ``job``'s watermark and bookkeeping."""
        return f"{self.prefix}state:{job}"

    def fired(self, job: str) -> str:
        """The stretches of time in which ``job``'s fires were enqueued (newest kept)."""
        return f"{self.prefix}fired:{job}"

    def paused(self) -> str:
        """The hash of paused jobs."""
        return f"{self.prefix}paused"
