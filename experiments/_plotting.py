"""Shared figure conventions of the experiments (no algorithms here).

* :data:`START_STYLE`: one fixed look per starting distribution of the learned-score
  experiments (:mod:`experiments.memorization`, :mod:`experiments.diffusion_vs_langevin`), so a
  start has the same colour, line style and marker in every figure. *vanilla* is dashed with
  hollow markers and drawn on top, so it stays visible where it coincides with *fresh*.
* :func:`log_ticks`: readable tick labels on a log-scaled axis (no colliding minor labels).
* :func:`count_ticks`: few, short labels (``50k``) on a linear axis of large counts.
* :data:`STYLE`, :func:`styled`, :func:`subplots`: one look for every figure, sized for the docs'
  ~800 px content column: 8 inches wide (:data:`FIG_WIDTH`), at most two panels per row, no
  text under 9 pt (:data:`MIN_FONT_SIZE`), saved at 200 dpi (:func:`experiments._output.save_figure`).
* :func:`mark_nonfinite`: a value that cannot be drawn (``-inf``, ``inf``, NaN) is marked at the
  edge of the axes and annotated, never dropped silently.
"""

from __future__ import annotations

import math
import functools
from typing import Iterable, Optional, Sequence

#: the width of every figure, inches: the docs' content column is about 800 px
FIG_WIDTH = 8.0
#: the smallest font size (points) any text of a figure may have
MIN_FONT_SIZE = 9.0
#: the most panels side by side
MAX_COLUMNS = 2

#: matplotlib settings of every experiment figure (applied by :func:`styled`)
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 11,
    "legend.framealpha": 0.85,
    "legend.borderpad": 0.3,
    "legend.labelspacing": 0.3,
    "legend.handlelength": 1.8,
    "legend.handletextpad": 0.5,
    "legend.columnspacing": 1.0,
    "axes.titlepad": 4.0,
    "lines.linewidth": 1.5,
    "lines.markersize": 5.0,
}

# start -> matplotlib keyword arguments (colour, line style, marker, drawing order)
# (vanilla's hollow marker is larger: a ring around fresh's where the two coincide)
START_STYLE = {
    "vanilla": dict(color="tab:blue", ls="--", marker="o", mfc="none", ms=7, mew=1.4, zorder=4),
    "fresh": dict(color="tab:green", ls="-", marker="s", ms=5, zorder=3),
    "train": dict(color="tab:red", ls="-", marker="^", ms=5, zorder=2),
}


def start_handles(starts: Iterable[str], suffix: str = "") -> list:
    """Legend handles of ``starts`` in their :data:`START_STYLE` (one legend for every panel)."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], label=f"{s}{suffix}", **{k: v for k, v in START_STYLE[s].items() if k != "zorder"})
            for s in starts]


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


def styled(plot):
    """Decorate a plot function: it runs with the Agg backend and :data:`STYLE` (fonts, legend,
    dpi) in effect, from creating its figures to saving them."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        import matplotlib

        matplotlib.use("Agg")
        with matplotlib.rc_context(STYLE):
            return plot(*args, **kwargs)

    return wrapper


def subplots(nrows: int = 1, ncols: int = 1, *, row_height: float = 3.0, extra_height: float = 0.0,
             **kwargs):
    """``plt.subplots`` for the docs: :data:`FIG_WIDTH` wide, ``row_height`` inches per row of
    panels (plus ``extra_height``, e.g. for a title or a legend below), at most
    :data:`MAX_COLUMNS` panels per row, laid out by matplotlib's constrained layout (save with
    ``tight=False``). Returns ``(fig, axes)`` as ``plt.subplots`` does."""
    import matplotlib.pyplot as plt

    if ncols > MAX_COLUMNS:
        raise ValueError(f"at most {MAX_COLUMNS} panels per row, got ncols={ncols}")
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(FIG_WIDTH, row_height * nrows + extra_height), **kwargs)


def mosaic(layout, *, row_height: float = 3.0, extra_height: float = 0.0, **kwargs):
    """``plt.subplot_mosaic(layout)`` for the docs (as :func:`subplots`): :data:`FIG_WIDTH` wide,
    ``row_height`` inches per row, at most :data:`MAX_COLUMNS` panels per row, constrained layout.
    Returns ``(fig, {name: axes})``."""
    import matplotlib.pyplot as plt

    if max(len(row) for row in layout) > MAX_COLUMNS:
        raise ValueError(f"at most {MAX_COLUMNS} panels per row, got {layout}")
    kwargs.setdefault("layout", "constrained")
    return plt.subplot_mosaic(layout, figsize=(FIG_WIDTH, row_height * len(layout) + extra_height), **kwargs)


def step_ticks(ax, axis: str = "x", max_ticks: int = 4) -> None:
    """Training steps on a linear axis: at most ``max_ticks`` labels, ``50k``, ``100k``, ``150k``
    (:func:`count_ticks` with fewer ticks: 150000 does not run into 125000)."""
    count_ticks(ax, axis, max_ticks=max_ticks)


def as_float(value) -> float:
    """A value of a result as a float: ``None`` (how the JSON stores NaN) is NaN, the JSON's
    ``"inf"`` / ``"-inf"`` are infinities."""
    if value is None:
        return math.nan
    return float(value)


def _edge_band(ax, edge: str, band: float) -> None:
    """Widen the y-limits of ``ax`` so a band of ``band`` (a fraction of the height) at its
    ``edge`` ("top" / "bottom") is free of data: the room for :func:`mark_nonfinite`'s marks (a
    later, wider band replaces a narrower one)."""
    bands = ax.__dict__.setdefault("_nonfinite_bands", {})
    if "limits" not in bands:
        bands["limits"] = ax.get_ylim()
    if band <= bands.get(edge, 0.0):
        return
    bands[edge] = band
    log = ax.get_yscale() == "log"
    f = (lambda v: math.log10(v)) if log else (lambda v: v)
    g = (lambda v: 10 ** v) if log else (lambda v: v)
    a, b = (f(v) for v in bands["limits"])
    top, bottom = bands.get("top", 0.0), bands.get("bottom", 0.0)
    span = (b - a) / (1 - top - bottom)
    ax.set_ylim(g(a - bottom * span), g(b + top * span))


def make_room(ax, edge: str = "top", fraction: float = 0.3) -> None:
    """Keep a band of ``fraction`` of the height at the ``edge`` ("top" / "bottom") of ``ax`` free
    of data (the y-limits widen), e.g. for a legend that must not cover the data."""
    _edge_band(ax, edge, fraction)


def mark_nonfinite(ax, xs: Sequence[float], ys: Sequence, *, what: str, why: str = "",
                   log: bool = False, color="k", ms: float = 8.0, annotate: str = "each",
                   band: float = 0.2, transform_x=None) -> list:
    """Mark, on ``ax``, the points ``(x, y)`` whose ``y`` cannot be drawn: ``inf`` at the top edge
    of the axes, ``-inf`` (and, with ``log``, a value <= 0: off a log axis) and NaN (``None`` in
    the JSON) at the bottom edge; each as a triangle (a cross for NaN) at ``x``, in
    a band of the axes kept free of data (``band`` of the height; the y-limits widen once), with
    a boxed annotation ``"{what} = -inf"`` beside it and ``why`` below that. Call it after
    plotting the finite points and setting the limits. ``annotate="first"``: every point gets
    its marker, only the first its annotation (a series infinite throughout); ``"none"``: markers
    only; ``"text"``: annotations only. ``transform_x``: the x transform of the markers (default
    the data's; :func:`mark_nonfinite_series` shifts them side by side). Returns the annotations
    (empty when every ``y`` can be drawn)."""
    import matplotlib.transforms as mtransforms

    marks = []
    trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    marker_trans = mtransforms.blended_transform_factory(transform_x or ax.transData, ax.transAxes)
    to_axes = ax.transData + ax.transAxes.inverted()
    for x, y in zip(xs, ys):
        y = as_float(y)
        if math.isfinite(y) and not (log and y <= 0):
            continue
        if math.isnan(y):
            edge, label, marker = "bottom", "NaN (missing)", "X"
        elif y > 0:
            edge, label, marker = "top", "+inf", "^"
        else:
            edge, label, marker = "bottom", "-inf" if math.isinf(y) else f"{y:.2g} (<= 0, off the log axis)", "v"
        text = f"{what} = {label}".strip() + (f"\n{why}" if why else "")
        _edge_band(ax, edge, max(band, 0.1 + 0.09 * (text.count("\n") + 1)))
        at = 0.96 if edge == "top" else 0.04
        if annotate != "text":
            ax.plot([x], [at], transform=marker_trans, clip_on=False, ls="none", zorder=6, marker=marker, ms=ms,
                    mfc=color, mec="white", mew=0.8)
        if annotate == "none" or (marks and annotate == "first"):
            continue
        # the text beside the marker, towards the middle of the axes, so it stays inside them
        ref = ax.get_ylim()[0] if ax.get_yscale() != "log" else max(ax.get_ylim()[0], 1e-300)
        frac = to_axes.transform((x, ref))[0]
        ha, dx = ("left", 8) if frac < 0.55 else ("right", -8)
        marks.append(ax.annotate(text, xy=(x, at), xycoords=trans, xytext=(dx, 0), textcoords="offset points",
                                 ha=ha, va="top" if edge == "top" else "bottom", color=color,
                                 fontsize=MIN_FONT_SIZE, zorder=7,
                                 bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=color, lw=0.6, alpha=0.92)))
    return marks


def mark_nonfinite_series(ax, xs: Sequence[float], series: dict, colors: dict, *, what: str, why=None,
                          log: bool = False) -> list:
    """:func:`mark_nonfinite` for several series on a common ``xs`` (the starts of a figure): at
    each ``x`` where some series cannot be drawn, one marker per such series (side by side, in its
    colour) and one annotation naming them all, ``"fresh, train: KL = +inf"``; ``why(x)`` (a
    function of ``x``, or a string) is the explanation below it. Returns the annotations."""
    import matplotlib.transforms as mtransforms

    marks = []
    for i, x in enumerate(xs):
        bad = [(name, as_float(ys[i])) for name, ys in series.items()
               if not math.isfinite(as_float(ys[i])) or (log and as_float(ys[i]) <= 0)]
        for edge in ("top", "bottom"):
            here = [(n, y) for n, y in bad if (edge == "top") == (y > 0 and math.isinf(y))]
            if not here:
                continue
            for j, (name, y) in enumerate(here):
                shift = mtransforms.offset_copy(ax.transData, fig=ax.figure, x=7 * (j - (len(here) - 1) / 2),
                                                units="points")
                mark_nonfinite(ax, [x], [y], what="", color=colors[name], annotate="none", log=log,
                               transform_x=shift)
            label = ", ".join(n for n, _ in here)
            text = why(x) if callable(why) else (why or "")
            marks += mark_nonfinite(ax, [x], [here[0][1]], what=f"{label}: {what}", why=text, log=log,
                                    color="k", annotate="text")
    return marks


def mark_nonfinite_bars(ax, positions: Sequence[float], values: Sequence, *, what: str = "",
                        horizontal: bool = False, color="k") -> list:
    """For a bar chart: write ``"{what} = +inf"`` (``-inf``, ``NaN (missing)``) where a bar whose
    value cannot be drawn would stand (at its base, inside the axes), so it is not silently
    absent. Returns the texts."""
    import matplotlib.transforms as mtransforms

    texts = []
    for pos, v in zip(positions, values):
        v = as_float(v)
        if math.isfinite(v):
            continue
        label = "NaN (missing)" if math.isnan(v) else ("+inf" if v > 0 else "-inf")
        text = f"{what} = {label}".strip(" =") if what else label
        if horizontal:
            trans = mtransforms.blended_transform_factory(ax.transAxes, ax.transData)
            texts.append(ax.text(0.02, pos, text, transform=trans, ha="left", va="center", color=color,
                                 fontsize=MIN_FONT_SIZE, bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=color,
                                                                   lw=0.6)))
        else:
            trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
            texts.append(ax.text(pos, 0.03, text, transform=trans, ha="center", va="bottom", rotation=90,
                                 color=color, fontsize=MIN_FONT_SIZE,
                                 bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=color, lw=0.6)))
    return texts


def finite_points(xs: Sequence[float], ys: Sequence, *, log: bool = False) -> tuple[list, list]:
    """The points of ``(xs, ys)`` that can be drawn (finite ``y``; with ``log``, ``y > 0``)."""
    keep = [(x, as_float(y)) for x, y in zip(xs, ys)
            if math.isfinite(as_float(y)) and not (log and as_float(y) <= 0)]
    return [x for x, _ in keep], [y for _, y in keep]


def suptitle(fig, text: str, width: int = 75) -> None:
    """A figure title wrapped to lines of at most ``width`` characters (it fits the 8-inch width)."""
    import textwrap

    fig.suptitle("\n".join(textwrap.wrap(text, width)))
