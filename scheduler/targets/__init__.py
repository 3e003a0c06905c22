"""Targets: the message formats a fire is written in (docs/targets.md).

``base.py`` is the interface every target implements, ``load.py`` finds a target by its
job key without importing a target library until a job needs it, ``broker.py`` checks that
a target's broker is the Redis of ``--redis``, and each target has its own module
(``celery.py``). Jobs of ``task:`` keep their own path (``enqueue.fire_payload``).
"""
