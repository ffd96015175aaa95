import json
import math

import jax
import numpy as np

from experiments import cone_escape, memorization_analytic, table1


def test_table1_tiny_true_score_kl_matches_closed_form(tmp_path):
    payload = table1.main(["--out", str(tmp_path), "--d", "10", "--c", "1", "7", "--steps", "200",
                           "--step-size", "0.01", "--chains", "400", "--trials", "2",
                           "--score-error-samples", "2000"])
    rows = payload["rows"]
    assert [r["c"] for r in rows] == [1.0, 7.0]
    for r in rows:
        # closed form + fit bias vs simulated: the fit's spread is about sqrt(2 * bias)
        tol = 5 * max(r["kl_true_score_std"], 0.05) + 0.1 * r["kl_true_score_exact_plus_fit_bias"]
        assert abs(r["kl_true_score"] - r["kl_true_score_exact_plus_fit_bias"]) < tol
    big = rows[1]
    assert big["kl_score_hat"] > 20 * big["kl_true_score"]  # trapped
    assert big["score_error_log10"] < -5
    data = json.loads((tmp_path / "table1.json").read_text())
    for key in ("c", "mu_norm", "score_error", "kl_score_hat", "kl_true_score",
                "kl_score_hat_std", "kl_true_score_std", "tv_lower_bound", "tv_lower_bound_detail",
                "tv_lower_bound_true_score", "tv_lower_bound_true_score_detail"):
        assert key in data["rows"][0]
    assert data["config"]["d"] == 10
    assert (tmp_path / "table1.png").exists() and (tmp_path / "table1.md").exists()
    # (issue 25) the certified TV lower bound, A = B(0, r_out), from all 2 x 400 chains
    for r in data["rows"]:
        for key in ("tv_lower_bound", "tv_lower_bound_true_score"):
            detail = r[f"{key}_detail"]
            assert -1 <= r[key] <= 1
            assert r[key] == detail["p_lower"] - detail["pi_a"]  # the identity of the bound, exactly
            assert math.isclose(detail["pi_a"], 10 ** detail["log10_pi_a"], rel_tol=1e-9)
            assert detail["num_chains"] == 800 and detail["num_nonfinite"] == 0 and detail["confidence"] == 0.95
            assert detail["region"] == "B(0, r_out)" and detail["p_lower"] <= detail["p_hat"]
        assert r["tv_lower_bound_detail"]["p_hat"] == r["fraction_trapped"]  # the trapped column's ball
    assert big["tv_lower_bound"] > 0.5  # trapped: TV >= 1 - e^{-Omega(d)}
    assert big["tv_lower_bound_true_score"] < 0.05  # the negative control: no evidence
    md = (tmp_path / "table1.md").read_text()
    assert "TV ≥ with ŝ" in md and "1 - e^{-Omega(d)}" in md
    # a result written before the bound was reported still gives its summary
    old = [{k: v for k, v in r.items() if not k.startswith("tv_lower_bound")} for r in rows]
    md_old = table1._markdown(table1.Config(d=10, c=(1, 7)), dict(payload, rows=old))
    assert "| n/r | " in md_old and "1 - e^{-Omega(d)}" not in md_old


def test_table1_exact_true_kl_formula_matches_paper():
    # the paper's column (10 trials) equals the closed form plus the fit bias at n ~ 5000
    bias = 50 * 53 / (4 * 5000)
    for c, paper in table1.PAPER_KL_TRUE.items():
        value = table1.exact_ula_kl(50, c, 0.0025, 1000) + bias
        assert abs(value - paper) / paper < 0.05


def test_memorization_analytic_tiny(tmp_path):
    cfg = memorization_analytic.Config(dims=(20,), num_train=100, chains=120, steps=300,
                                       trials=1, score_error_samples=2000)
    res = memorization_analytic.run(cfg, jax.random.key(0))
    row = res["rows"][0]
    assert row["train"]["trapped_mean"] > 0.9
    assert row["fresh"]["trapped_mean"] < 0.1 and row["vanilla"]["trapped_mean"] < 0.1
    assert row["train"]["kl_mean"] > 3 * row["fresh"]["kl_mean"]
    # Sinkhorn (120 chains vs 120 samples of pi): train far above the pi-vs-pi floor, fresh near it
    assert row["sinkhorn_all_converged"]
    floor = row["sinkhorn_pi_vs_pi"]  # two independent 120-point samples of pi
    excess_train = row["train"]["sinkhorn_mean"] - floor
    excess_fresh = row["fresh"]["sinkhorn_mean"] - floor
    assert excess_train > 3 * max(excess_fresh, 0.1)
    assert row["fresh"]["sinkhorn_mean"] < 1.1 * floor
    assert math.isfinite(row["score_error_log10"])
    # (issue 25) the certified TV lower bound, A = the balls B(x_i, r_out) of the trapped fraction
    for s in memorization_analytic.STARTS:
        tv, detail = row[s]["tv_lower_bound"], row[s]["tv_lower_bound_detail"]
        assert -1 <= tv <= 1
        assert tv == detail["p_lower"] - detail["pi_a"]  # the identity of the bound, exactly
        assert detail["num_chains"] == 120 and detail["num_nonfinite"] == 0
        assert detail["p_hat"] == row[s]["trapped_mean"]  # one trial: the same chains and balls
    assert row["train"]["tv_lower_bound"] > 0.9 > row["fresh"]["tv_lower_bound"]
    assert row["train"]["tv_lower_bound_detail"]["log10_pi_a"] < -5  # pi(A) is e^{-Omega(d)}
    md = memorization_analytic._markdown(cfg, res)
    assert "TV lower bound vanilla / fresh / train" in md and "1 - e^{-Omega(d)}" in md
    # a result written before the bound was reported still gives its summary
    old = {k: v for k, v in row.items()}
    for s in memorization_analytic.STARTS:
        old[s] = {k: v for k, v in row[s].items() if not k.startswith("tv_lower_bound")}
    assert "n/r / n/r / n/r" in memorization_analytic._markdown(cfg, dict(rows=[old]))


def test_cone_escape_tiny():
    cfg = cone_escape.Config(starts_1d=(2.0,), half_angles_2d=(0.6,), chains=200, steps=2000,
                             save_every=200, score_error_samples=20_000)
    res = cone_escape.run(cfg, jax.random.key(0))
    for c in res["curves"]:
        frac = np.asarray(c["fraction_escaped"])
        assert np.all(np.diff(frac) >= 0)  # cumulative
        assert 0 < c["score_error"] < 1
    assert res["curves"][0]["final_fraction_escaped"] > 0.2


def test_interrupted_experiment_resumes_finished_parts(tmp_path, monkeypatch):
    flags = ["--out", str(tmp_path), "--d", "6", "--c", "1", "5", "--steps", "50",
             "--step-size", "0.01", "--chains", "50", "--trials", "1",
             "--score-error-samples", "500"]
    first = table1.main(flags)
    calls = []
    original = table1._row
    monkeypatch.setattr(table1, "_row", lambda *a, **k: calls.append(a) or original(*a, **k))
    # simulate an interruption: the c=5 part is lost, the c=1 part survived
    parts = next((tmp_path / ".parts").iterdir())
    (parts / f"c=5.0-v{table1.PART_VERSION}.json").unlink()
    second = table1.main(flags)
    assert len(calls) == 1 and calls[0][2] == 5.0  # only the missing part is recomputed
    assert second["rows"] == first["rows"]  # the kept part re-used, the lost one recomputed equal
    # a rerun from scratch with --force asks for every part again (the harness's decision: the
    # rows themselves are stood in for, their computation is what the two runs above checked)
    rows = {row["c"]: row for row in first["rows"]}
    monkeypatch.setattr(table1, "_row", lambda *a, **k: calls.append(a) or rows[a[2]])
    table1.main(flags + ["--force"])
    assert [a[2] for a in calls] == [5.0, 1.0, 5.0]


def test_table1_figure_draws_the_papers_markers_on_top(tmp_path, monkeypatch):
    # (issue 14, item 2) the paper's markers were hidden under ours
    from tests.experiments._figures import capture_figures

    figures = capture_figures(monkeypatch, table1)
    rows = [dict(mu_norm=c * 50**0.5, kl_score_hat=25.0 * c**2, kl_score_hat_std=0.5, kl_true_score=paper,
                 kl_true_score_std=0.02, kl_true_score_exact_plus_fit_bias=paper, paper_kl_true_score=paper,
                 score_error_log10=-c**2, score_error_mc_log10=-c**2, score_error_mc_log10_se=0.1)
            for c, paper in table1.PAPER_KL_TRUE.items()]
    table1._plot(dict(rows=rows), tmp_path)
    ax = figures[0].axes[0]
    (paper,) = [line for line in ax.get_lines() if "paper" in line.get_label()]
    others = [a for a in ax.get_children() if a is not paper and hasattr(a, "get_zorder")
              and a not in (ax.patch, ax.get_legend()) and a.get_visible()
              and type(a).__name__ in ("Line2D", "LineCollection", "PathCollection")]
    assert others and paper.get_zorder() > max(a.get_zorder() for a in others)
    assert paper.get_markerfacecolor() == "none"  # hollow: ours shows through
    assert any("paper" in t.get_text() for t in ax.get_legend().get_texts())
