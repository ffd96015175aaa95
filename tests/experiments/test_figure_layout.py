"""Every experiment's figure fits the docs' ~800 px column (issue 24): drawn from a real result
(the main job's results, trimmed, in tests/data/figures/; the H100 results in
docs/figures/data/h100/), each figure is at most 8.5 inches wide, has at most two panels per
row, no colliding tick labels, no text under 9 pt, legends off the data, and marks (never
drops) a value it cannot draw. ``docs/make_figures.py --replot`` re-renders figures from a
run's JSON."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest

from experiments import _plotting
from tests.experiments._figures import capture_figures, overlapping_tick_labels

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "figures"
H100 = ROOT / "docs" / "figures" / "data" / "h100"

# fixture (tests/data/figures/<name>.json) -> the experiment module that drew it
RUNS = {"annealed_langevin": "annealed_langevin", "cone_escape": "cone_escape",
        "diffusion_vs_langevin": "diffusion_vs_langevin", "dimension_sweep": "dimension_sweep",
        "gaussian_dsm": "gaussian_dsm", "memorization_analytic": "memorization_analytic",
        "memorization_digits": "memorization_digits", "memorization_gaussian": "memorization",
        "memorization_mixture": "memorization", "table1": "table1", "ula_bias": "ula_bias"}
FIGURES_PER_RUN = {"memorization_digits": 2}  # the ECDF figure and the image grid


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")  # the captured figures are kept open for the asserts only


@pytest.fixture(scope="module")
def make_figures():
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "docs" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arrays(obj):
    """Plot-only data stored as lists in a fixture, as the arrays ``run`` hands the plot."""
    if isinstance(obj, dict):
        return {k: _arrays(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return tuple(np.asarray(v, float) for v in obj) if obj and isinstance(obj[0], list) \
            and isinstance(obj[0][0], list) else np.asarray(obj, float)
    return obj


def _load(make_figures, path: Path) -> dict:
    result = make_figures.load_result(path)
    for key in [k for k in result if k.startswith("_") and k != "_fixture"]:
        result[key] = _arrays(result[key])
    return result


def _draw(monkeypatch, tmp_path, make_figures, module_name: str, result_path: Path) -> list:
    """The figures ``module_name``'s plot function draws from the result at ``result_path``."""
    module = importlib.import_module(f"experiments.{module_name}")
    figures = capture_figures(monkeypatch, module)
    result = _load(make_figures, result_path)
    plot = getattr(module, "plot", None) or module._plot
    if "config" in inspect.signature(plot).parameters:
        plot(result, tmp_path, make_figures.config_of(module, result))
    else:
        plot(result, tmp_path)
    return figures


def _panels(fig) -> list:
    """The axes that are panels: drawn axes with tick labels (not legend slots or image tiles)."""
    return [ax for ax in fig.axes if ax.axison and ax.get_visible()
            and any(t.get_text().strip() for t in ax.get_xticklabels() + ax.get_yticklabels())]


def _points_under(box, ax) -> int:
    """Data points (line vertices, scatter and error-bar points, bar corners) of ``ax`` inside the
    display box ``box``."""
    pts = []
    for line in ax.get_lines():
        if line.get_visible() and line.get_transform() == ax.transData:
            xy = np.column_stack([np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)])
            pts.append(ax.transData.transform(xy))
    for coll in ax.collections:
        if coll.get_visible():
            offsets = np.asarray(coll.get_offsets(), float)
            if offsets.size and coll.get_offset_transform() == ax.transData:
                pts.append(ax.transData.transform(offsets))
            for path in coll.get_paths():
                if len(path.vertices) and coll.get_transform() == ax.transData:
                    pts.append(ax.transData.transform(path.vertices))
    for patch in ax.patches:
        if patch.get_visible() and hasattr(patch, "get_bbox"):
            b = patch.get_window_extent()
            pts.append(np.array([[b.x0, b.y1], [b.x1, b.y1], [b.x0, b.y0], [b.x1, b.y0]]))
    if not pts:
        return 0
    pts = np.concatenate(pts)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    inside = (pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)
    return int(inside.sum())


def check_docs_figure(fig) -> None:
    """The figure fits an ~800 px column: the asserts of issue 24."""
    renderer = fig._test_renderer
    width, _ = fig.get_size_inches()
    assert width <= 8.5, f"figure {width:.2f} in wide"
    # what is saved (bbox_inches="tight") too
    assert fig.get_tightbbox(renderer).width <= 8.5, fig.get_tightbbox(renderer)
    panels = _panels(fig)
    assert panels or all(ax.images or not ax.axison for ax in fig.axes)  # (or a grid of image tiles)
    for ax in panels:  # at most 2 panels side by side: no row holds 3
        box = ax.get_position()
        same_row = [o for o in panels if o.get_position().y0 < box.y1 - 1e-3 and o.get_position().y1 > box.y0 + 1e-3]
        assert len(same_row) <= _plotting.MAX_COLUMNS, [a.get_title() for a in same_row]
    for ax in fig.axes:
        for axis in ("x", "y"):
            assert overlapping_tick_labels(ax, axis) == [], (ax.get_title(), axis)
    from matplotlib.text import Text

    small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.get_fontsize() < _plotting.MIN_FONT_SIZE]
    assert small == [], small
    for ax in fig.axes:  # a legend inside a panel covers none of its data
        legend = ax.get_legend()
        if legend is not None and ax in panels:
            assert _points_under(legend.get_window_extent(renderer), ax) == 0, ax.get_title()


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_experiment_figure_fits_the_docs_column(name, tmp_path, monkeypatch, make_figures):
    figures = _draw(monkeypatch, tmp_path, make_figures, RUNS[name], FIXTURES / f"{name}.json")
    assert len(figures) == FIGURES_PER_RUN.get(name, 1)
    for fig in figures:
        check_docs_figure(fig)


@pytest.mark.parametrize("name", ["memorization_gaussian", "memorization_mixture", "diffusion_vs_langevin"])
def test_the_h100_figures_fit_the_docs_column(name, tmp_path, monkeypatch, make_figures):
    """The learned-score figures from the H100 results kept in the docs (the flat config of
    those older JSONs is rebuilt), the training steps labelled 50k / 100k / 150k."""
    manifest = {r["figure"]: r for r in json.loads((H100 / "runs.json").read_text())["runs"]}[name]
    (fig,) = _draw(monkeypatch, tmp_path, make_figures, manifest["module"], H100 / manifest["result"])
    check_docs_figure(fig)
    if manifest["module"] == "memorization":
        (loss,) = [ax for ax in fig.axes if ax.get_xlabel() == "training step"]
        labels = [t.get_text() for t in loss.get_xticklabels() if t.get_text()]
        assert "150k" in labels and all(len(t) <= 4 for t in labels), labels


def test_an_infinite_value_is_marked_not_dropped(tmp_path, monkeypatch, make_figures):
    """table1's Monte Carlo score error at ||mu|| = 7.07 is log 0 = -inf (no draw where the trap
    score differs): the figure marks it at the bottom edge and says why."""
    result = _load(make_figures, FIXTURES / "table1.json")
    row = result["rows"][0]
    assert row["score_error_mc_log10"] == -math.inf  # the real result has it
    from experiments import table1

    figures = capture_figures(monkeypatch, table1)
    table1._plot(result, tmp_path)
    ax = figures[0].axes[1]
    notes = [t for t in ax.texts if "-inf" in t.get_text() and t.get_visible()]
    assert len(notes) == 1 and "20,000 draws" in notes[0].get_text(), [t.get_text() for t in ax.texts]
    (mark,) = [line for line in ax.get_lines() if line.get_marker() == "v"]
    assert mark.get_xdata()[0] == pytest.approx(row["mu_norm"])
    assert mark.get_ydata()[0] < 0.1  # at the bottom edge (axes coordinates)
    # inside the figure, and it does not cover the finite points
    box = notes[0].get_bbox_patch().get_window_extent(figures[0]._test_renderer)
    assert _points_under(box, ax) == 0
    check_docs_figure(figures[0])
    # every finite point is still drawn
    (mc,) = [c for c in ax.containers if c.get_label() == "Monte Carlo"]
    assert len(mc.lines[0].get_xdata()) == len(result["rows"]) - 1


def test_coinciding_ula_and_mala_markers_both_show(tmp_path, monkeypatch, make_figures):
    """ula_bias at h = 0.02: ULA's and MALA's values nearly coincide; ULA's marker is a larger
    hollow circle drawn over MALA's filled square."""
    from experiments import ula_bias

    figures = capture_figures(monkeypatch, ula_bias)
    ula_bias._plot(_load(make_figures, FIXTURES / "ula_bias.json"), tmp_path)
    lines = {line.get_label(): line for line in figures[0].axes[0].get_lines()}
    ula, mala = lines["ULA simulated (Gaussian fit)"], lines["MALA simulated (Gaussian fit)"]
    assert ula.get_markerfacecolor() == "none" and mala.get_markerfacecolor() != "none"
    assert ula.get_markersize() > 1.5 * mala.get_markersize() and ula.get_zorder() > mala.get_zorder()


def test_replot_from_a_run_folder_and_from_the_h100_results(tmp_path, monkeypatch, make_figures):
    """``make_figures.py RUN_DIR --replot`` draws each figure from its JSON into the run folder,
    copies it, and keeps the run's provenance in the table (saying it was re-rendered); the
    H100 results in docs/figures/data/h100 re-render without their folder changing."""
    figures_dir = tmp_path / "figures"
    figures_dir.mkdir()
    monkeypatch.setattr(make_figures, "FIGURES", figures_dir)
    run = tmp_path / "run" / "ula_bias"
    run.mkdir(parents=True)
    (run / "ula_bias.json").write_text((FIXTURES / "ula_bias.json").read_text())
    (run / "main_job_run.json").write_text(json.dumps(dict(module="ula_bias", flags=["--quick"], seed=0)))
    make_figures.main([str(tmp_path / "run"), "--label", "cpu", "--replot"])
    assert (run / "ula_bias.png").exists() and (figures_dir / "cpu_ula_bias.png").exists()
    readme = (figures_dir / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if line.startswith("| cpu_ula_bias.png")]
    assert "python -m experiments.ula_bias --quick --seed 0" in row and "re-rendered" in row

    before = sorted(p.name for p in H100.iterdir())
    make_figures.main([str(H100), "--label", "h100", "--replot"])
    assert sorted(p.name for p in H100.iterdir()) == before  # rendered elsewhere, copied
    for name in ("h100_memorization_gaussian.png", "h100_memorization_mixture.png", "h100_diffusion_vs_langevin.png"):
        assert (figures_dir / name).stat().st_size > 10_000
    readme = (figures_dir / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| h100_")]
    assert len(rows) == 3 and all("H100" in r and "run 2026-11-26" in r and "re-rendered" in r for r in rows)
    assert any(line.startswith("| cpu_ula_bias.png") for line in readme.splitlines())  # other labels kept


def test_save_figure_writes_200_dpi(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from experiments import _output

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1])
    _output.save_figure(fig, tmp_path / "f.png")
    dpi = Image.open(tmp_path / "f.png").info["dpi"]
    assert round(dpi[0]) == 200
