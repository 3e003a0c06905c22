"""Converting other schedulers' schedules into a schedule file (``scheduler import``).

Pure: each converter reads what the CLI loaded (a Celery app's ``beat_schedule``, a
sidekiq-cron YAML text, an rq cron config's jobs) and returns entries; ``render`` writes
them as a schedule file. Nothing here imports redis or a target's library.
"""
