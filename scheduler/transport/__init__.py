"""How the package talks to Redis: the Lua scripts (``lua/``, run by
``scripts``), and named failure points for tests (``faults``).
"""
