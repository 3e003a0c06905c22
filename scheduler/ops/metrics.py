"""Prometheus metrics of `scheduler run` and `scheduler worker` (the ``metrics`` extra).

``--metrics-port`` serves ``/metrics`` from a thread of its own (prometheus-client's
``start_http_server``). The collectors read, when scraped, the counters the dispatcher
and the worker keep anyway (``scheduler.stats``: a few integer increments per fire or
run, no lock), and Redis for queue depths and the dead set (one pipeline, at most once a
second). This is the only module that imports prometheus-client; the CLI imports it
only when ``--metrics-port`` is given. docs/metrics.md lists every metric.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

import redis

from ..dispatch.dispatcher import Dispatcher
from ..errors import ConfigError
from ..keys import Keys, as_text
from ..queue import QueueReadout
from ..schedule.watch import ScheduleFile
from ..stats import Histogram
from ..transport.durability import Durability
from ..worker.worker import Worker

try:
    from prometheus_client import (
        GCCollector,
        PlatformCollector,
        ProcessCollector,
        start_http_server,
    )
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        Metric,
    )
    from prometheus_client.registry import Collector, CollectorRegistry
except ImportError:  # the extra is not installed
    raise ConfigError(
        "--metrics-port needs prometheus-client: pip install 'scheduler[metrics]'"
    ) from None

log = logging.getLogger(__name__)

L = TypeVar("L", bound=tuple[str, ...])

JOB = "schedule_job"  # not "job": Prometheus gives each target a `job` label of its own

_RUN_COUNTERS = (
    ("started", "Runs whose task was called."),
    ("succeeded", "Runs that returned."),
    ("failed", "Runs that failed (raised, timed out, or could not run): retried plus dead."),
    ("retried", "Failed runs scheduled to run again after a backoff."),
    ("dead", "Jobs moved to the dead set (last attempt failed, not allowed, bad payload)."),
    ("expired", "Scheduled runs dropped unrun because they were fetched past `expires`."),
)


def serve(host: str, port: int, *collectors: Collector) -> None:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread: ``collectors`` and the
    process's own (CPU, memory, open files, garbage collection, Python version)."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"--metrics-port {port}: cannot listen on {host}: {reason}") from None
    log.info("metrics served url=http://%s:%d/metrics", host, port)


class DispatcherCollector:
    """`scheduler run`: leadership, and what the dispatcher did with the fires."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    def collect(self) -> Iterator[Metric]:
        """The metrics as they are now."""
        lead = self._dispatcher.leadership
        leader = lead.is_leader
        yield _gauge("scheduler_leader", "1 if this process is the leader, else 0.", int(leader))
        epoch = (lead.epoch or 0) if leader else 0
        yield _gauge("scheduler_leader_epoch", "Epoch of this leader's term; 0 if standby.", epoch)
        yield CounterMetricFamily(
            "scheduler_lease_renew_failures",
            "Lease renewals that failed (refused by Redis, or Redis unreachable).",
            lead.renew_failures,
        )
        yield from self._fires()
        lateness = HistogramMetricFamily(
            "scheduler_fire_lateness_seconds",
            "Seconds between a fire's time and its enqueue, for every fire enqueued.",
            labels=[],
        )
        lateness.add_metric([], *_buckets(self._dispatcher.stats.lateness))
        yield lateness

    def _fires(self) -> Iterator[Metric]:
        stats = self._dispatcher.stats
        jobs = list(self._dispatcher.schedule.jobs.values())
        names = [(job.name,) for job in jobs]
        for name, counts, doc in (
            ("enqueued", stats.enqueued, "Fires enqueued."),
            ("caught_up", stats.caught_up, "Fires enqueued over 1 s late: missed, then made up."),
            ("duplicate", stats.duplicates, "Fires refused by Redis as already enqueued."),
        ):
            by_job = {(job,): n for job, n in dict(counts).items()}
            yield _counter(f"scheduler_fires_{name}", doc, [JOB], by_job, names)
        yield _counter(
            "scheduler_fires_missed",
            "Fires older than misfire_grace when the leader came to them; `policy` decided.",
            [JOB, "policy"],
            dict(stats.missed),
            [(job.name, job.misfire) for job in jobs],
        )
        yield _counter(
            "scheduler_fires_skipped",
            "Fires not enqueued: reason misfire (dropped by the policy) or overlap.",
            [JOB, "reason"],
            dict(stats.skipped),
            [(job.name, reason) for job in jobs for reason in ("misfire", "overlap")],
        )


class DurabilityCollector:
    """`scheduler run` and `scheduler worker` with ``--durability replicated``: writes no
    replica confirmed (docs/operations.md#durability)."""

    def __init__(self, durability: Durability) -> None:
        self._durability = durability

    def collect(self) -> Iterator[Metric]:
        """The metrics as they are now."""
        durability = self._durability
        yield _gauge(
            "scheduler_unconfirmed_writes",
            "Writes sent that no replica has confirmed yet (0 with durability local).",
            durability.unconfirmed,
        )
        yield CounterMetricFamily(
            "scheduler_writes_unconfirmed",
            "Writes that went on without a replica's confirmation in time.",
            durability.unconfirmed_total,
        )


class ScheduleFileCollector:
    """`scheduler run`: whether the schedule file on disk was refused (it has problems, so
    the process keeps running the last good version)."""

    def __init__(self, source: ScheduleFile) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        """The metrics as they are now."""
        yield _gauge(
            "scheduler_schedule_reload_refused",
            "1 while the schedule file has problems and an older schedule runs, else 0.",
            int(self._source.refused is not None),
        )


class WorkerCollector:
    """`scheduler worker`: what became of the runs, by queue and task."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def collect(self) -> Iterator[Metric]:
        """The metrics as they are now."""
        queues = self._worker.consumer.queues
        rows = sorted(self._worker.pool.stats.totals().items())
        labels = ["queue", "task"]
        for name, doc in _RUN_COUNTERS:
            values = {(queues[i], task): getattr(counts, name) for (i, task), counts in rows}
            yield _counter(f"scheduler_jobs_{name}", doc, labels, values)
        duration = HistogramMetricFamily(
            "scheduler_job_duration_seconds",
            "Seconds a run took, for every run whose task was called and ended.",
            labels=labels,
        )
        for (index, task), counts in rows:
            duration.add_metric([queues[index], task], *_buckets(counts.duration))
        yield duration
        yield _gauge(
            "scheduler_worker_abandoned_threads",
            "Job threads abandoned at their run's timeout that still run their task.",
            self._worker.pool.stuck(),
        )


class RedisCollector:
    """Queue depths, delayed jobs, the dead set and paused jobs, read from Redis when
    scraped: two round trips, at most once per ``max_age`` seconds however often scrapes
    come. Without Redis, these metrics are left out until it answers again."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        queues: Sequence[str] = (),
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._keys = keys
        self._queues = tuple(queues)
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at = -math.inf
        self._cached: list[Metric] = []
        self._failing = False

    def collect(self) -> list[Metric]:
        """The metrics as read at most ``max_age`` seconds ago."""
        with self._lock:
            if self._clock() - self._read_at >= self._max_age:
                self._cached = self._read()
                self._read_at = self._clock()
            return self._cached

    def _read(self) -> list[Metric]:
        k = self._keys
        try:
            names = self._client.smembers(k.queues()) | self._client.smembers(k.paused_queues())
            known = {as_text(n) for n in names}
            readout = QueueReadout(k, sorted(known.union(self._queues)))
            pipe = self._client.pipeline(transaction=False)
            readout.send(pipe)
            pipe.zcard(k.dead())
            pipe.hlen(k.paused())
            replies = iter(pipe.execute())
            rows, _ = readout.read(replies)
            dead, paused = replies
        except redis.RedisError as exc:
            if not self._failing:
                log.warning("metrics cannot read the queues from Redis: %s", exc)
            self._failing = True
            return []
        self._failing = False
        return [
            _queue_gauge(
                "scheduler_queue_depth",
                "Jobs waiting in the queue.",
                {row.name: row.depth for row in rows},
            ),
            _queue_gauge(
                "scheduler_queue_delayed",
                "Delayed jobs and retries waiting for their time.",
                {row.name: row.delayed for row in rows},
            ),
            _queue_gauge(
                "scheduler_queue_paused",
                "1 if the queue is paused (scheduler queue pause): no worker fetches from it.",
                {row.name: int(row.paused) for row in rows},
            ),
            _gauge("scheduler_dead_jobs", "Jobs in the dead set.", int(dead)),
            _gauge("scheduler_jobs_paused", "Schedule jobs paused.", int(paused)),
        ]


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _queue_gauge(name: str, doc: str, values: Mapping[str, int]) -> Metric:
    gauge = GaugeMetricFamily(name, doc, labels=["queue"])
    for queue, value in values.items():
        gauge.add_metric([queue], value)
    return gauge


def _counter(
    name: str, doc: str, labels: list[str], values: Mapping[L, float], zero: Iterable[L] = ()
) -> Metric:
    """A counter family with ``values``, and 0 for the label sets of ``zero`` not in them
    (so a first increment shows in ``increase()``)."""
    counter = CounterMetricFamily(name, doc, labels=labels)
    for key in dict.fromkeys([*values, *zero]):
        counter.add_metric(list(key), values.get(key, 0))
    return counter


def _buckets(histogram: Histogram) -> tuple[list[tuple[str, float]], float]:
    """Cumulative buckets (``le`` text, count) and the sum, as Prometheus wants them."""
    counts, total = list(histogram.counts), histogram.total
    buckets, running = [], 0
    for bound, count in zip((*histogram.bounds, math.inf), counts, strict=True):
        running += count
        buckets.append(("+Inf" if bound == math.inf else repr(float(bound)), float(running)))
    return buckets, total
