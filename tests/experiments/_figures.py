"""Helpers for the figure tests: capture an experiment's figure, find colliding tick labels."""

from __future__ import annotations

import itertools


def capture_figures(monkeypatch, module) -> list:
    """Make ``module``'s ``_output.save_figure`` draw the figure and keep it (instead of saving):
    returns the list the figures are appended to."""
    figures = []

    def keep(fig, path, *, tight=True):
        if tight:  # as save_figure does before saving
            fig.tight_layout()
        fig.canvas.draw()
        fig._test_renderer = fig.canvas.get_renderer()
        figures.append(fig)

    monkeypatch.setattr(module._output, "save_figure", keep)
    return figures


def tick_labels(ax, axis: str = "x") -> list:
    """The non-empty tick labels (major and minor) of ``axis`` drawn inside the view limits."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    ticks = list(zip(target.get_majorticklocs(), target.get_majorticklabels()))
    ticks += list(zip(target.get_minorticklocs(), target.get_minorticklabels()))
    return [label for loc, label in ticks
            if label.get_visible() and label.get_text().strip() and lo <= loc <= hi]


def overlapping_tick_labels(ax, axis: str = "x") -> list:
    """Pairs of tick-label texts of ``axis`` whose drawn boxes overlap (the figure must be drawn)."""
    renderer = getattr(ax.figure, "_test_renderer", None) or ax.figure.canvas.get_renderer()
    boxes = [(label.get_text(), label.get_window_extent(renderer)) for label in tick_labels(ax, axis)]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)]
