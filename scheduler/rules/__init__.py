"""Rules: when a job fires. Pure: no clock, no I/O, no Redis (docs/schedule.md,
docs/time.md).

``kinds`` (every, cron, monthly), ``cronexpr`` (cron fields), ``zones``
(a zone's transitions), ``describe`` (rules and instants in words).
"""
