import json
import math

import jax
import pytest

from experiments import gaussian_dsm

SETTINGS = (
    gaussian_dsm.Setting(a=1.0, num_samples=None, sigma=0.2, eta=0.03, num_ula_steps=100),
    gaussian_dsm.Setting(a=2.0, num_samples=60, sigma=0.2, eta=0.03, num_ula_steps=100, gamma=0.5,
                         num_dsm_steps=20),
)
TINY = gaussian_dsm.Config(
    d=12, exponents=(1.0, 2.0), etas=(0.003, 0.03), sigma_grid=(1e-3, 1.0, 8), d_finite_n=6,
    sweep_sigmas=(0.075, 0.3), num_samples_grid=(6, 60), num_datasets=2, finite_n_sigma_points=4,
    dsm_steps_grid=(1, 10), gammas=(0.5,), d_sim=4, settings=SETTINGS, num_chains=400,
    num_replicates=6,
)


def test_run_tiny_three_way_agrees():
    result = gaussian_dsm.run(TINY, jax.random.key(0))
    rows = result["three_way"]
    assert len(rows) == 2
    for r in rows:
        for key in ("formula_w2", "exact_w2", "simulated_w2", "simulated_w2_se",
                    "formula_is_exact", "fit_bias_w2_sq"):
            assert key in r
        assert r["nonfinite_chains"] == 0
        # debiased simulation vs exact, within Monte Carlo error (SE over replicates)
        assert abs(r["z_simulated_vs_exact"]) < 5
    assert rows[0]["formula_is_exact"] and not rows[1]["formula_is_exact"]
    assert rows[0]["formula_w2"] == pytest.approx(rows[0]["exact_w2"], rel=1e-9)
    for o in result["optimum_vs_anisotropy"]:
        for s in o["sigma_star"]:
            assert math.isfinite(float(s)) and float(s) >= 0


def test_cli_writes_outputs(tmp_path, monkeypatch):
    monkeypatch.setattr(gaussian_dsm.Config, "quick", classmethod(lambda cls: TINY))
    payload = gaussian_dsm.main(["--quick", "--out", str(tmp_path), "--settings", "1",
                                 "--chains", "300", "--replicates", "3"])
    data = json.loads((tmp_path / "gaussian_dsm.json").read_text())
    assert data["config"]["num_chains"] == 300 and len(data["three_way"]) == 1
    row = data["three_way"][0]
    for key in ("formula_w2", "exact_w2", "simulated_w2", "simulated_w2_se", "formula_is_exact"):
        assert key in row
    for key in ("elapsed_seconds", "config", "sigma_sweep", "optimum_vs_anisotropy", "n_sweep",
                "k_sweep"):
        assert key in data
    assert payload["three_way"][0]["exact_w2"] == row["exact_w2"]
    for name in ("gaussian_dsm.png", "gaussian_dsm.md"):
        assert (tmp_path / name).exists()


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exc:
        gaussian_dsm.main(["--help"])
    assert exc.value.code == 0
    assert "--quick" in capsys.readouterr().out
