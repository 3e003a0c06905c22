"""FastAPI with one ``scheduler.aio.Queue`` for the app's lifetime.

Run: ``SCHEDULER_REDIS_URL=redis://localhost:6379/0 uvicorn examples.fastapi_app.main:app``
and a worker: ``scheduler worker --import examples.fastapi_app.tasks --queue mailers``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from pydantic import BaseModel

from scheduler import aio

from .tasks import send_welcome


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # One Queue (one connection pool) for the app, closed at shutdown; from_url reads
    # SCHEDULER_REDIS_URL and SCHEDULER_NAMESPACE.
    async with aio.Queue.from_url() as queue:
        app.state.queue = queue
        yield


app = FastAPI(lifespan=lifespan)


class Signup(BaseModel):
    email: str
    name: str = "there"


@app.post("/signup", status_code=202)
async def signup(body: Signup, request: Request) -> dict[str, str]:
    queue: aio.Queue = request.app.state.queue
    job_id = await send_welcome.on(queue).enqueue(body.email, name=body.name)
    return {"job": job_id}
