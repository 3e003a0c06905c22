"""`scheduler worker`: the ``worker`` process and its threads, its calls to Redis
(``redis_calls``), the ``fetcher`` that moves jobs between Redis and the job threads
(``pool``), and running one job (``execution``).
"""
