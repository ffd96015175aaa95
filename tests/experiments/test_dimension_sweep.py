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
