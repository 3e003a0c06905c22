"""`scheduler web`: a dashboard of the leader, workers, queues, schedule jobs, retries and
the dead set, with buttons to trigger, pause, resume, retry and delete.

Needs the ``web`` extra (``pip install 'scheduler[web]'``: Starlette, Jinja2, uvicorn).
"""

from .app import create_app
from .views import WebSettings

__all__ = ["WebSettings", "create_app"]
