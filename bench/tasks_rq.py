"""The no-op task of bench/worker_throughput.py for RQ."""


def noop() -> None:
    """Do nothing."""
