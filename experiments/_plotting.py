"""Shared figure conventions of the experiments (no algorithms here).

* :data:`START_STYLE`: one fixed look per starting distribution of the learned-score
  experiments (:mod:`experiments.memorization`, :mod:`experiments.diffusion_vs_langevin`), so a
  start has the same colour, line style and marker in every figure. *vanilla* is dashed with
  hollow markers and drawn on top, so it stays visible where it coincides with *fresh*.
* :func:`log_ticks`: readable tick labels on a log-scaled axis (no colliding minor labels).
* :func:`count_ticks`: few, short labels (``50k``) on a linear axis of large counts.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

# start -> matplotlib keyword arguments (colour, line style, marker, drawing order)
# (vanilla's hollow marker is larger: a ring around fresh's where the two coincide)
START_STYLE = {
    "vanilla": dict(color="tab:blue", ls="--", marker="o", mfc="none", ms=7, mew=1.4, zorder=4),
    "fresh": dict(color="tab:green", ls="-", marker="s", ms=5, zorder=3),
    "train": dict(color="tab:red", ls="-", marker="^", ms=5, zorder=2),
}


def start_color(start: str) -> str:
    """The colour of ``start`` (a key of :data:`START_STYLE`)."""
    return START_STYLE[start]["color"]


def log_ticks(ax, axis: str = "x", values: Optional[Iterable[float]] = None, max_ticks: int = 6) -> None:
    """Make the tick labels of the log-scaled ``axis`` (``"x"`` or ``"y"``) of ``ax`` readable.

    Major ticks at ``values`` (e.g. the step sizes or dimensions swept) when they are few and
    well spread; otherwise at 1, 2, 5 (narrow ranges: 1, 2, 3, 4, 5, 7) times powers of 10, or
    at powers of 10 only for ranges over 2.5 decades. Minor ticks stay, unlabelled. Call it
    after plotting (it reads the axis limits).
    """
    from matplotlib.ticker import (FixedLocator, FuncFormatter, LogFormatterSciNotation,
                                   LogLocator, NullFormatter)

    target = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    lo, hi = min(lo, hi), max(lo, hi)
    if not (lo > 0 and math.isfinite(hi)):
        return
    decades = max(math.log10(hi / lo), 1e-12)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    vals = sorted({float(v) for v in values if v is not None and lo <= v <= hi and v > 0}) \
        if values is not None else []
    gaps = [math.log10(b / a) for a, b in zip(vals, vals[1:])]
    if 2 <= len(vals) <= max_ticks and min(gaps) >= 0.1 * decades:
        target.set_major_locator(FixedLocator(vals))
        target.set_major_formatter(plain)
    elif decades > 2.5:
        target.set_major_locator(LogLocator(base=10.0, subs=(1.0,), numticks=max_ticks))
        target.set_major_formatter(LogFormatterSciNotation(base=10.0))
    else:
        subs = (1.0, 2.0, 3.0, 4.0, 5.0, 7.0) if decades <= 0.6 else (1.0, 2.0, 5.0)
        target.set_major_locator(LogLocator(base=10.0, subs=subs, numticks=max_ticks * len(subs)))
        target.set_major_formatter(plain)
    target.set_minor_formatter(NullFormatter())


def count_ticks(ax, axis: str = "x", max_ticks: int = 5) -> None:
    """At most ``max_ticks`` integer ticks on the linear ``axis`` of ``ax``, labelled ``50k``,
    ``1.5M``: long counts (``150000``) no longer run into each other."""
    from matplotlib.ticker import EngFormatter, MaxNLocator

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(nbins=max_ticks, integer=True))
    target.set_major_formatter(EngFormatter(sep=""))
