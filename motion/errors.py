"""Error types. Every error about a file names the file and the problem."""

from __future__ import annotations


class MotionError(ValueError):
    """Invalid motion data; ``source`` names the file (or object) it came from."""

    def __init__(self, problem: str, source: str | None = None):
        self.problem = problem
        self.source = source
        super().__init__(f"{source}: {problem}" if source else problem)
