"""One-line status messages of the experiments' long phases, on stderr (no algorithms here).

Host-side only: call these between compiled calls (sampling trials, a batched Sinkhorn),
never inside code that is traced. They print and read the clock, nothing else, so a run's
numbers are the same with or without them.
"""

from __future__ import annotations

import sys
import time


def status(name: str, message: str) -> None:
    """Print ``"<name>: <message>"`` to stderr (looked up at call time) and flush."""
    print(f"{name}: {message}", file=sys.stderr, flush=True)


class Phase:
    """``with Phase("memorization", "Sinkhorn, 50 divergences"):`` prints the message when
    entered and ``"... done in 2.1 s"`` when left (``"... failed after"`` on an exception)."""

    def __init__(self, name: str, message: str):
        self.name, self.message = name, message

    def __enter__(self) -> "Phase":
        status(self.name, f"{self.message} ...")
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        word = "done in" if exc_type is None else "failed after"
        status(self.name, f"{self.message}: {word} {time.perf_counter() - self.t0:.1f} s")
