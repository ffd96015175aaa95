import json


from experiments import dimension_sweep


def test_dimension_sweep_tiny(tmp_path, monkeypatch):
    tiny = dimension_sweep.Config(dims=(3, 8), chains=60, steps=100, step_size=0.02,
                                  num_train=40, num_seeds=6,
                                  opt_dims=(2, 6), budget=20, opt_chains=8000, gd_steps=60)
    monkeypatch.setattr(dimension_sweep.Config, "quick", classmethod(lambda cls: tiny))
    payload = dimension_sweep.main(["--quick", "--out", str(tmp_path)])
    rob = payload["robustness"]
    assert rob["num_traces"] == 1  # one compilation for every d
    r3, r8 = rob["rows"]
    assert r8["trap_score_error_log10"] < r3["trap_score_error_log10"]
    assert r8["kl_trap"] > 5 * r8["kl_trap_true_score"]
    for r in payload["optimal_step"]["rows"]:
        assert r["relative_difference"] < 0.15
        # the simulated optimum is near-optimal for the closed form
        assert r["w2_closed_form_at_simulated_optimum"] <= 1.05 * r["w2_closed_form_at_optimum"]
    data = json.loads((tmp_path / "dimension_sweep.json").read_text())
    assert {"robustness", "optimal_step", "config"} <= set(data)
    assert (tmp_path / "dimension_sweep.png").exists()


def test_optimal_step_panel_tick_labels_do_not_collide(tmp_path, monkeypatch):
    # (issue 14, item 1) panel 3's log axes labelled their minor ticks over each other
    from tests.experiments._figures import capture_figures, overlapping_tick_labels, tick_labels

    figures = capture_figures(monkeypatch, dimension_sweep)
    rob = [dict(d=d, trap_score_error_log10=-d, memo_score_error_log10=-0.7 * d, kl_trap=25.0 * d,
                kl_trap_true_score=0.17 * d, kl_memo_train=0.001 * d**2, kl_memo_fresh=0.01 * d)
           for d in (5, 10, 20, 50)]
    opt = [dict(d=d, h_star_closed_form=h, h_star_simulated=0.99 * h)
           for d, h in ((2, 0.0774), (5, 0.063), (10, 0.0511), (20, 0.0386), (50, 0.0229))]
    dimension_sweep._plot(dict(robustness=dict(rows=rob), optimal_step=dict(rows=opt)), tmp_path)
    ax = figures[0].axes[2]
    for axis in ("x", "y"):
        assert len(tick_labels(ax, axis)) >= 2, axis
        assert overlapping_tick_labels(ax, axis) == [], axis
