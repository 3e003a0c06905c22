"""The `scheduler` command. ``main`` holds the group, `check` and `next`; the commands
that talk to Redis live in modules imported only when one of them runs (``worker``,
``run``, ``control``, ``web``; their shared options in ``options``); ``logs`` configures
logging (only the CLI does); ``dev`` is `scheduler dev`.
"""
