"""Operating a running system: ``control`` (trigger, pause, backfill, the dead set,
health), ``status``, and the Prometheus exporter (``metrics``).
"""
