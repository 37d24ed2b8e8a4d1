"""How fast this machine runs Python: one number to put beside a benchmark's results.

Machines of the same kind here differ by up to three times in single-core Python speed (and a
shared machine's speed moves during a run). A latency or a rate means little without it: compare
two runs' results only together with their calibrations. The workload is fixed pure Python
(integer arithmetic, dict and list operations, string formatting: what request handling spends
its CPU on), single-threaded, best of `rounds` to leave out interruptions.
"""

import time


def _workload(n: int) -> int:
    table: dict[int, str] = {}
    total = 0
    for i in range(n):
        key = i % 1024
        table[key] = f"row-{i}"
        total += len(table[key]) + key
    return total + len([v for v in table.values() if v.endswith("7")])


def python_ms(rounds: int = 3, n: int = 300_000) -> float:
    """Milliseconds the fixed workload takes here (best of `rounds`)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        _workload(n)
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)
