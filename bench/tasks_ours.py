"""The no-op task of bench/worker_throughput.py for this project's worker."""


def noop() -> None:
    """Do nothing."""


def spin(rounds: int) -> int:
    """Pure-Python work holding the GIL: ``rounds`` multiply-adds (a CPU-bound job)."""
    total = 0
    for i in range(rounds):
        total += i * i % 7
    return total
