"""The dashboard application: routes, the guard around them, error pages."""

from __future__ import annotations

from pathlib import Path

import redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..clock import Clock
from ..keys import Keys
from .guard import GuardMiddleware
from .views import Dashboard, WebSettings

STATIC = Path(__file__).parent / "static"


def create_app(
    client: redis.Redis, keys: Keys, clock: Clock, settings: WebSettings | None = None
) -> Starlette:
    """The dashboard over namespace ``keys`` of ``client``, "now" read from ``clock``."""
    board = Dashboard(client, keys, clock, settings or WebSettings())
    act = board.action
    routes = [
        Route("/", board.overview, name="overview"),
        Route("/schedules", board.schedule_list, name="schedules"),
        Route("/jobs/{name}", board.job_page, name="job"),
        Route("/jobs/{name}/trigger", act(board.trigger), methods=["POST"]),
        Route("/jobs/{name}/pause", act(board.pause), methods=["POST"]),
        Route("/jobs/{name}/resume", act(board.resume), methods=["POST"]),
        Route("/retries", board.retries_page, name="retries"),
        Route("/retries/{queue}/{job_id}/now", act(board.retry_now), methods=["POST"]),
        Route("/retries/{queue}/{job_id}/delete", act(board.retry_delete), methods=["POST"]),
        Route("/queues/{queue}", board.queue_page, name="queue"),
        Route("/queues/{queue}/pause", act(board.queue_pause), methods=["POST"]),
        Route("/queues/{queue}/resume", act(board.queue_resume), methods=["POST"]),
        Route("/queued/{job_id}", board.queued_job, name="queued"),
        Route("/queued/{job_id}/cancel", act(board.cancel), methods=["POST"]),
        Route("/dead", board.dead_list, name="dead"),
        Route("/dead/retry-all", act(board.dead_retry_all), methods=["POST"]),
        Route("/dead/delete-all", act(board.dead_delete_all), methods=["POST"]),
        Route("/dead/{job_id}", board.dead_job, name="dead_job"),
        Route("/dead/{job_id}/retry", act(board.dead_retry), methods=["POST"]),
        Route("/dead/{job_id}/delete", act(board.dead_delete), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    def error_page(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = board.page(request, "error.html", refresh=False, error=exc)
        response.status_code = exc.status_code
        return response

    return Starlette(
        routes=routes,
        middleware=[Middleware(GuardMiddleware, guard=board.guard)],
        exception_handlers={HTTPException: error_page},
    )
