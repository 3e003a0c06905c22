"""`scheduler web`: the dashboard, served by uvicorn (the ``web`` extra).

Listed by `scheduler --help` even without the extra; run without it, it says which
extra to install, on one line.
"""

from __future__ import annotations

import ipaddress
import logging

import click

from ..clock import RedisClock
from ..errors import ConfigError
from ..keys import Keys
from ..schedule.loader import Schedule, load_schedule
from .logs import configure_logging, url_secrets
from .main import schedule_path
from .options import (
    connect,
    file_option,
    log_options,
    redis_options,
    safe_namespace,
    value_or_file,
)

try:
    import uvicorn

    from ..web import WebSettings, create_app
    from ..web.guard import is_loopback
except ImportError as exc:  # the web extra is not installed
    MISSING: str | None = exc.name or "its dependencies"
else:
    MISSING = None

log = logging.getLogger(__name__)


def _proxies(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The proxies to trust, as uvicorn reads them; BadParameter for anything but IP
    addresses and networks (uvicorn would silently never match it)."""
    if value is None:
        return None
    if value.strip() == "*":
        return "*"
    trusted = []
    for item in (part.strip() for part in value.split(",")):
        try:
            address = ipaddress.ip_network(item, strict=False) if "/" in item else None
            trusted.append(str(address or ipaddress.ip_address(item)))
        except ValueError:
            raise click.BadParameter(
                f"{item!r} is not an IP address or network: give e.g. 10.0.0.5, 10.0.0.0/8, "
                "::1, or * for any"
            ) from None
    return ",".join(trusted)


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but loopback needs --token.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help="TCP port to listen on.",
)
@click.option(
    "--token",
    envvar="SCHEDULER_WEB_TOKEN",
    default=None,
    metavar="TOKEN",
    callback=value_or_file,
    help="Access token: open the dashboard once with ?token=TOKEN, or send "
    "'Authorization: Bearer TOKEN' [env: SCHEDULER_WEB_TOKEN].",
)
@file_option("--token-file", "SCHEDULER_WEB_TOKEN_FILE", "token", "the access token")
@click.option("--read-only", is_flag=True, help="Show everything, change nothing.")
@click.option(
    "--refresh",
    type=click.FloatRange(0, 3600),
    default=5.0,
    show_default=True,
    help="Seconds between live updates of an open page (0: none).",
)
@click.option(
    "--schedule",
    "schedule_file",
    default=None,
    metavar="FILE",
    help="Show the jobs of FILE while no leader has published its schedule.",
)
@click.option(
    "--forwarded-allow-ips",
    "proxies",
    default=None,
    metavar="IPS",
    callback=_proxies,
    help="Behind a reverse proxy: trust X-Forwarded-For and X-Forwarded-Proto from these "
    "addresses or networks (comma-separated; * for any). By default no proxy header is "
    "trusted.",
)
@redis_options
@log_options
def web(
    host: str,
    port: int,
    token: str | None,
    read_only: bool,
    refresh: float,
    schedule_file: str | None,
    proxies: str | None,
    redis_url: str,
    namespace: str,
    log_level: str,
    log_format: str,
) -> None:
    """Serve the dashboard: leader, workers, queues, schedules, retries and dead jobs."""
    if MISSING is not None:
        raise ConfigError(
            f"scheduler web needs the web extra ({MISSING} is missing): "
            "pip install 'scheduler[web]'"
        )
    token = token or None
    if token is None and not is_loopback(host):
        raise click.UsageError(
            f"--host {host} is reachable from other machines: give --token or --token-file "
            "(or set SCHEDULER_WEB_TOKEN or SCHEDULER_WEB_TOKEN_FILE), or listen on 127.0.0.1"
        )
    configure_logging(log_level, log_format, [*url_secrets(redis_url), *filter(None, [token])])
    fallback = _fallback(schedule_file)
    client = connect(redis_url, timeout=10.0, wait=True)
    keys = Keys(safe_namespace(namespace))
    settings = WebSettings(token=token, read_only=read_only, refresh=refresh, fallback=fallback)
    app = create_app(client, keys, RedisClock(client), settings)
    log.info(
        "dashboard on http://%s:%d/%s%s",
        host if ":" not in host else f"[{host}]",
        port,
        "?token=<your token>" if token else "",
        " (read-only)" if read_only else "",
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=proxies is not None,
        forwarded_allow_ips=proxies,
    )


def _fallback(schedule_file: str | None) -> Schedule | None:
    return load_schedule(schedule_path(schedule_file)) if schedule_file else None
