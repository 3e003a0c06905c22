"""`scheduler run` and `scheduler status`: the dispatcher process and what it reports."""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType

import click
import redis

from ..clock import RedisClock
from ..dispatch.dispatcher import DispatchSettings
from ..dispatch.leader import LeaseSettings
from ..dispatch.runloop import RunLoop, RunSettings, check_eviction
from ..errors import printable_lines
from ..keys import Keys
from ..ops.status import gather, published_schedule, render
from ..schedule.loader import load_schedule
from ..schedule.watch import ScheduleFile
from ..targets.broker import check_brokers
from ..targets.load import targets_of
from .dev import dev_queues, run_dev
from .logs import configure_logging, url_secrets
from .main import optional_schedule, schedule_argument, schedule_path
from .options import connect, log_options, metrics_options, redis_options, safe_namespace


@click.command()
@schedule_argument
@click.option(
    "--lease",
    type=click.FloatRange(0.5, 600),
    default=3.0,
    show_default=True,
    help="Seconds a leader's lease lasts unrenewed: the longest failover after a leader "
    "freezes. A killed leader is replaced faster (its connection closes).",
)
@click.option(
    "--poll",
    type=click.FloatRange(0.01, 60),
    default=0.25,
    show_default=True,
    help="Seconds between a standby's looks at the lease.",
)
@click.option(
    "--allow-eviction",
    is_flag=True,
    help="Run even if Redis may evict keys (maxmemory-policy other than noeviction).",
)
@redis_options
@log_options
@metrics_options
def run(
    schedule: str | None,
    lease: float,
    poll: float,
    allow_eviction: bool,
    redis_url: str,
    namespace: str,
    log_level: str,
    log_format: str,
    metrics_port: int,
    metrics_host: str,
) -> None:
    """Run a scheduler process: one leader enqueues each fire once, the rest stand by."""
    configure_logging(log_level, log_format, url_secrets(redis_url))
    source = ScheduleFile(schedule_path(schedule))
    lease_settings = LeaseSettings(lease=lease, renew_every=lease / 3, poll_every=poll)
    client = connect(redis_url, timeout=lease_settings.renew_every, wait=True)
    check_eviction(client, allow_eviction)
    check_brokers(client, targets_of(source.schedule))
    settings = RunSettings(lease=lease_settings, dispatch=DispatchSettings())
    keys = Keys(safe_namespace(namespace))
    loop = RunLoop(client, keys, RedisClock(client), source, settings)
    _serve_metrics(metrics_host, metrics_port, loop, client, keys)
    _handle_signals(loop)
    loop.run()


def _serve_metrics(host: str, port: int, loop: RunLoop, client: redis.Redis, keys: Keys) -> None:
    """Serve the scheduler's metrics if ``port`` is set (only then is the extra imported)."""
    if not port:
        return
    from ..ops import metrics  # noqa: PLC0415 (an optional extra, imported only when asked for)

    metrics.serve(
        host,
        port,
        metrics.DispatcherCollector(loop.dispatcher),
        metrics.ScheduleFileCollector(loop.source),
        metrics.RedisCollector(client, keys),
    )


def _handle_signals(loop: RunLoop) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        loop.stop()

    def reload(signum: int, frame: FrameType | None) -> None:
        loop.request_reload()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)


@click.command()
@schedule_argument
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--schedule",
    "schedule_file",
    default=None,
    metavar="FILE",
    help="Read jobs from FILE (same as SCHEDULE) when no leader has published its schedule "
    "[default: $SCHEDULER_SCHEDULE, else schedule.yml if present].",
)
@redis_options
def status(
    schedule: str | None, as_json: bool, schedule_file: str | None, redis_url: str, namespace: str
) -> None:
    """Show the leader, scheduler processes, each job's next and last fire, queue depths."""
    if schedule and schedule_file and schedule != schedule_file:
        raise click.UsageError("give the schedule as SCHEDULE or as --schedule, not both")
    client = connect(redis_url, timeout=5.0)
    keys = Keys(safe_namespace(namespace))
    clock = RedisClock(client)
    running = published_schedule(client, keys) or optional_schedule(schedule or schedule_file)
    report = gather(client, keys, clock.now(), running)
    click.echo(json.dumps(report, indent=2) if as_json else printable_lines(render(report)))
    sys.exit(0)


@click.command()
@schedule_argument
@click.option(
    "--redis",
    "redis_url",
    default=None,
    metavar="URL",
    help="Use this Redis instead of starting an embedded one.",
)
@click.option("--namespace", default="dev", show_default=True, help="Key namespace.")
def dev(schedule: str | None, redis_url: str | None, namespace: str) -> None:
    """Try a schedule on this machine: embedded Redis, one scheduler, one worker."""
    path = schedule_path(schedule)
    loaded = load_schedule(path)
    click.echo(f"[dev] {path}: {len(loaded.jobs)} jobs, digest {loaded.digest}")
    sys.exit(run_dev(path, dev_queues(loaded), redis_url, safe_namespace(namespace)))
