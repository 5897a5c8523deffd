"""Shared timing helper for the benchmark scripts (run as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import time


def best_rate(fn, frames: int, repeat: int = 3) -> float:
    """Frames per second of ``fn`` (which processes ``frames`` frames): one
    untimed warm-up call, then the best of ``repeat`` timed calls."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return frames / best
