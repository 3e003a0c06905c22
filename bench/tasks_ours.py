"""The no-op task of bench/worker_throughput.py for this project's worker."""


def noop() -> None:
    """Do nothing."""
