"""A FastAPI app that enqueues jobs with ``scheduler.aio.Queue`` (docs/guides/fastapi.md)."""
