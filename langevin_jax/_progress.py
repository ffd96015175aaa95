"""One text progress bar for sampling and training (private).

`ProgressBar` is host-side; `ProgressBar.update` is called directly by eager
loops (training, between compiled chunks) and through `report` from inside traced code
(sampling), where ``jax.debug.callback`` delivers the step. Under a user's ``vmap`` the step
arrives batched: the bar shows the furthest chain batch.
"""

from __future__ import annotations

import sys
import time
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np


class ProgressBar:
    """``[#####     ] k/N steps, loss 0.1234, 512.3 steps/s, 3.2s elapsed, eta 4.1s``.

    Args:
      total: the step the bar ends at.
      start: the step counting starts from (a resumed run), default 0.
      stream: where to write (``sys.stderr`` at call time when ``None``).
    """

    def __init__(self, total: int, start: int = 0, stream=None):
        self.total, self.start_step, self.stream = int(total), int(start), stream
        self.t0: Optional[float] = None

    def update(self, step, **values) -> None:
        k = int(np.max(np.asarray(step)))
        now = time.perf_counter()
        if self.t0 is None or k <= self.start_step:
            self.t0 = now
        elapsed = now - self.t0
        done = k - self.start_step
        rate = done / elapsed if elapsed > 0 else float("nan")
        eta = f"{(self.total - k) / rate:6.1f}s" if rate == rate and rate > 0 else "     ?"
        extra = "".join(f", {name} {float(np.mean(np.asarray(v))):.4f}" for name, v in values.items())
        bar = "#" * int(30 * min(k / max(self.total, 1), 1.0))
        stream = self.stream or sys.stderr
        rate_txt = f", {rate:8.1f} steps/s" if rate == rate else ""
        stream.write(f"\r[{bar:<30}] {k}/{self.total} steps{extra}{rate_txt}, "
                     f"{elapsed:6.1f}s elapsed, eta {eta}")
        if k >= self.total:
            stream.write("\n")
        stream.flush()

    __call__ = update


def report(bar: ProgressBar, step: jax.Array, every: int) -> None:
    """From traced code: update ``bar`` when ``step % every == 0`` or ``step == bar.total``."""
    jax.lax.cond(
        (step % every == 0) | (step == bar.total),
        lambda s: jax.debug.callback(bar.update, s),
        lambda s: None,
        jnp.asarray(step),
    )
