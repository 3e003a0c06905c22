"""A Flask app factory that enqueues jobs through the default Queue (docs/guides/flask.md).

Run: ``flask --app examples.flask_app run`` and a worker:
``scheduler worker --import examples.flask_app.tasks --queue reports``.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request

import scheduler

from .tasks import build_report


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app; ``SCHEDULER_REDIS_URL`` and ``SCHEDULER_NAMESPACE`` come from ``config``,
    else the environment."""
    app = Flask(__name__)
    app.config["SCHEDULER_REDIS_URL"] = os.environ.get("SCHEDULER_REDIS_URL")
    app.config["SCHEDULER_NAMESPACE"] = os.environ.get("SCHEDULER_NAMESPACE")
    app.config.update(config or {})
    # The default Queue of the process: every task's .enqueue() sends through it.
    scheduler.configure(
        url=app.config["SCHEDULER_REDIS_URL"], namespace=app.config["SCHEDULER_NAMESPACE"]
    )

    @app.post("/reports")
    def order_report() -> tuple[dict[str, str], int]:
        account = int(request.form["account"])
        job_id = build_report.options(delay=float(request.form.get("delay", 0))).enqueue(
            account, fmt=request.form.get("format", "pdf")
        )
        return {"job": job_id}, 202

    return app
