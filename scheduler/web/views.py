"""The dashboard's pages (GET) and buttons (POST, each answered with a redirect back).

Pages read Redis through ``scheduler.web.data`` and render server-side, so they read
fine without JavaScript; ``static/live.js`` refreshes them in place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

import redis
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..clock import Clock
from ..deadset import DeadFilter
from ..errors import PayloadError
from ..jobs import check_queue_name
from ..jobstate import read_job
from ..keys import Keys
from ..ops.control import Control
from ..schedule.loader import Job, Schedule
from . import actions, data, queued
from .guard import CSRF_FIELD, Guard, local_path
from .render import environment

FLASH_COOKIE = "scheduler_flash"
MAX_FORM_BYTES = 16_384
MAX_REASON = 300
MAX_FILTER = 200  # characters kept of a filter field
DEAD_FILTERS = ("task", "queue", "job", "error")


@dataclass(frozen=True)
class WebSettings:
    """How the dashboard behaves; see ``scheduler web --help``."""

    token: str | None = None
    read_only: bool = False
    refresh: float = 5.0  # seconds between live updates of a page (0: none)
    per_page: int = 100  # schedule jobs per page
    dead_per_page: int = 50
    fallback: Schedule | None = None  # shown when no leader has published its schedule


Endpoint = Callable[[Request], Awaitable[Response]]


class Dashboard:
    """The pages and actions over one namespace of one Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, clock: Clock, settings: WebSettings):
        self.client = client
        self.keys = keys
        self.clock = clock
        self.settings = settings
        self.guard = Guard(settings.token, settings.read_only)
        self.control = Control(client, keys, clock)
        self.schedules = data.ScheduleSource(client, keys, settings.fallback)
        self.env = environment()

    # -- rendering -------------------------------------------------------------------------

    def page(
        self, request: Request, template: str, refresh: bool = True, **context: Any
    ) -> HTMLResponse:
        """Render ``template`` with the context every page shares."""
        live = request.headers.get("x-live") == "1"
        flash = None if live else request.cookies.get(FLASH_COOKIE)
        html = self.env.get_template(template).render(
            request=request,
            now=self.clock.now(),
            namespace=self.keys.namespace,
            read_only=self.settings.read_only,
            csrf_field=CSRF_FIELD,
            csrf=self.guard.csrf_token(request.scope["state"].get("session", "")),
            flash=unquote(flash) if flash else None,
            path=_here(request),
            refresh=self.settings.refresh if refresh else 0,
            **context,
        )
        response = HTMLResponse(html)
        if flash:
            response.delete_cookie(FLASH_COOKIE, httponly=True, samesite="strict")
        return response

    def _job(self, name: str) -> Job:
        schedule = self.schedules.get()
        if schedule is None or name not in schedule.jobs:
            raise HTTPException(404, f"no job named {name} in the schedule")
        return schedule.jobs[name]

    # -- pages -----------------------------------------------------------------------------

    def overview(self, request: Request) -> Response:
        """Leader, standbys, workers, queues, the last hour, the latest runs, next fires."""
        now = self.clock.now()
        info = data.overview(self.client, self.keys, now)
        schedule = self.schedules.get()
        paused = data.paused_jobs(self.client, self.keys)
        upcoming = data.next_up(schedule, set(paused), now) if schedule else []
        jobs = len(schedule.jobs) if schedule else 0
        return self.page(
            request, "overview.html", info=info, upcoming=upcoming, jobs=jobs, paused=len(paused)
        )

    def schedule_list(self, request: Request) -> Response:
        """Every job of the schedule (filtered, a page at a time) with buttons."""
        schedule = self.schedules.get()
        query = request.query_params.get("q", "").strip()
        show = request.query_params.get("show", "all")
        jobs = list(schedule.jobs.values()) if schedule else []
        if query:
            lowered = query.lower()
            jobs = [j for j in jobs if lowered in j.name.lower() or lowered in j.task.lower()]
        if show == "paused":
            paused = data.paused_jobs(self.client, self.keys)
            jobs = [j for j in jobs if j.name in paused]
        elif show == "disabled":
            jobs = [j for j in jobs if not j.enabled]
        per_page = _int(request, "per_page", self.settings.per_page, 1, 1000)
        pages = max(1, -(-len(jobs) // per_page))
        number = _int(request, "page", 1, 1, pages)
        sliced = jobs[(number - 1) * per_page : number * per_page]
        rows = data.job_rows(self.client, self.keys, self.clock.now(), sliced)
        page = data.Page(rows, number, pages, len(jobs), {"q": query, "show": show})
        total = len(schedule.jobs) if schedule else 0
        return self.page(request, "schedules.html", page=page, schedule=schedule, total=total)

    def job_page(self, request: Request) -> Response:
        """One job: its settings, next fires, last fire, recent runs, buttons."""
        job = self._job(request.path_params["name"])
        [row] = data.job_rows(self.client, self.keys, self.clock.now(), [job], count=10)
        runs = data.job_runs(self.client, self.keys, job.name)
        return self.page(request, "job.html", row=row, runs=runs)

    def retries_page(self, request: Request) -> Response:
        """Jobs waiting for their next attempt."""
        return self.page(request, "retries.html", page=data.retries(self.client, self.keys))

    def dead_list(self, request: Request) -> Response:
        """The dead set (or its jobs that match the filter), newest first, a page at a time."""
        per_page = self.settings.dead_per_page
        number = _int(request, "page", 1, 1, 10**6)
        where = _dead_filter(request.query_params)
        page = data.dead_page(self.client, self.keys, number, per_page, where)
        query = urlencode({k: v for k, v in asdict(where).items() if v})
        return self.page(request, "dead.html", page=page, where=where, query=query)

    def dead_job(self, request: Request) -> Response:
        """One dead job: payload, error, traceback."""
        record = data.dead_record(self.client, self.keys, request.path_params["job_id"])
        if record is None:
            raise HTTPException(404, "no such dead job (retried or deleted?)")
        return self.page(request, "dead_job.html", refresh=False, record=record)

    def queue_page(self, request: Request) -> Response:
        """A queue's waiting jobs and its delayed ones, a page of each at a time, and
        whether it is paused."""
        name = _queue_name(request)
        paused = bool(self.client.sismember(self.keys.paused_queues(), name))
        numbers = (_int(request, "page", 1, 1, 10**6), _int(request, "delayed", 1, 1, 10**6))
        per_page = self.settings.dead_per_page
        pages = queued.queue_page(self.client, self.keys, name, numbers, per_page)
        return self.page(request, "queue.html", queue=name, pages=pages, paused=paused)

    def queued_job(self, request: Request) -> Response:
        """One enqueued job's status, times, error and result."""
        info = read_job(self.client, self.keys, request.path_params["job_id"])
        return self.page(request, "queued.html", info=info)

    # -- buttons ---------------------------------------------------------------------------

    def cancel(self, request: Request, form: dict[str, str]) -> str:
        """Cancel a waiting or delayed job, or ask the worker running it to stop it."""
        job_id = request.path_params["job_id"]
        outcome = self.control.queue.cancel(job_id)
        return f"{job_id}: {_CANCELLED[outcome]}"

    def queue_pause(self, request: Request, form: dict[str, str]) -> str:
        """Pause the queue: workers take no job from it (``scheduler queue pause``)."""
        name = _queue_name(request)
        return f"queue {name}: " + (
            "paused" if self.control.pause_queue(name) else "was paused already"
        )

    def queue_resume(self, request: Request, form: dict[str, str]) -> str:
        """Resume the queue (``scheduler queue resume``)."""
        name = _queue_name(request)
        return f"queue {name}: " + (
            "resumed" if self.control.resume_queue(name) else "was not paused"
        )

    def action(self, do: Callable[[Request, dict[str, str]], str]) -> Endpoint:
        """A POST endpoint: check the form, run ``do`` (returns a message), go back."""

        async def endpoint(request: Request) -> Response:
            form = await _read_form(request)
            if not self.guard.form_allowed(request, form):
                raise HTTPException(403, "this form is stale or did not come from here: reload")
            message = await run_in_threadpool(do, request, form)
            response = RedirectResponse(local_path(form.get("next")), status_code=303)
            response.set_cookie(
                FLASH_COOKIE, quote(message), max_age=60, httponly=True, samesite="strict"
            )
            return response

        return endpoint

    def trigger(self, request: Request, form: dict[str, str]) -> str:
        """Run the job now."""
        job = self._job(request.path_params["name"])
        schedule = self.schedules.get()
        job_id = self.control.trigger(job, schedule.targets if schedule else None)
        return f"{request.path_params['name']}: enqueued now (id {job_id})"

    def pause(self, request: Request, form: dict[str, str]) -> str:
        """Pause the job, with the reason given."""
        name = self._job(request.path_params["name"]).name
        reason = form.get("reason", "").strip()[:MAX_REASON] or None
        who = f"dashboard ({request.client.host if request.client else '?'})"
        self.control.pause(name, who, reason)
        return f"{name}: paused" + (f" ({reason})" if reason else "")

    def resume(self, request: Request, form: dict[str, str]) -> str:
        """Resume the job."""
        name = self._job(request.path_params["name"]).name
        return f"{name}: resumed" if self.control.resume(name) else f"{name}: was not paused"

    def dead_retry(self, request: Request, form: dict[str, str]) -> str:
        """Enqueue one dead job again."""
        job_id = request.path_params["job_id"]
        try:
            done, _ = self.control.retry_dead([job_id])
        except PayloadError as exc:
            return f"not retried: {exc}"
        return f"{job_id}: enqueued again" if done else f"{job_id}: no longer dead"

    def dead_delete(self, request: Request, form: dict[str, str]) -> str:
        """Delete one dead job."""
        job_id = request.path_params["job_id"]
        done = self.control.purge_dead([job_id])
        return f"{job_id}: deleted" if done else f"{job_id}: no longer dead"

    def dead_retry_all(self, request: Request, form: dict[str, str]) -> str:
        """Enqueue every dead job (that matches the form's filter) again; those with no
        readable payload stay."""
        ids = self.control.dead_ids(_dead_filter(form))
        sent, unreadable = actions.retry_all_dead(self.control.queue, ids)
        stayed = f"; {unreadable} without a readable payload stayed" if unreadable else ""
        return f"{sent} dead jobs enqueued again{stayed}"

    def dead_delete_all(self, request: Request, form: dict[str, str]) -> str:
        """Empty the dead set, or delete its jobs that match the form's filter."""
        count = self.control.purge_dead(self.control.dead_ids(_dead_filter(form)))
        return f"{count} dead jobs deleted"

    def retry_now(self, request: Request, form: dict[str, str]) -> str:
        """Make a waiting retry due now."""
        queue, job_id = request.path_params["queue"], request.path_params["job_id"]
        done = actions.retry_now(self.client, self.keys, queue, job_id, self.clock.now())
        return f"{job_id}: due now" if done else f"{job_id}: no longer waiting"

    def retry_delete(self, request: Request, form: dict[str, str]) -> str:
        """Delete a waiting retry."""
        queue, job_id = request.path_params["queue"], request.path_params["job_id"]
        done = actions.delete_delayed(self.client, self.keys, queue, job_id, self.clock.now())
        return f"{job_id}: deleted" if done else f"{job_id}: no longer waiting"


_CANCELLED = {
    "cancelled": "cancelled, it will not run",
    "requested": "cancel requested from the worker running it",
    "finished": "not cancelled: it has already ended",
    "not_found": "not cancelled: it is not waiting, delayed or running",
}


def _dead_filter(fields: Mapping[str, str]) -> DeadFilter:
    """The dead-set filter of a query string or form: task, queue, job, error."""
    given = {name: fields.get(name, "").strip()[:MAX_FILTER] or None for name in DEAD_FILTERS}
    return DeadFilter(**given)


def _queue_name(request: Request) -> str:
    """The queue named in the path; 404 if it cannot be a queue's name."""
    name: str = request.path_params["queue"]
    try:
        return check_queue_name(name)
    except PayloadError as exc:
        raise HTTPException(404, str(exc)) from None


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        value = default
    return min(high, max(low, value))


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def _read_form(request: Request) -> dict[str, str]:
    """A url-encoded form of at most ``MAX_FORM_BYTES``."""
    if request.headers.get("content-type", "").split(";")[0].strip() not in (
        "application/x-www-form-urlencoded",
        "",
    ):
        raise HTTPException(415, "send a url-encoded form")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
